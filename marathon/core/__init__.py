"""What every blueprint may use and that knows no blueprint: tokens, errors, Redis, clock."""
