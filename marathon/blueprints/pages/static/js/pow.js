// A solver for ALTCHA's SHA-256 challenge with Web Crypto: find n with SHA-256(salt + n) == challenge.

const BATCH = 1000;

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Solves `challenge` ({algorithm, challenge, salt, signature, maxnumber}); resolves to the base64 `pow` payload. */
export async function solve(challenge, onProgress = () => {}) {
  if (challenge.algorithm !== "SHA-256") throw new Error(`unsupported algorithm ${challenge.algorithm}`);
  if (!globalThis.crypto || !crypto.subtle) throw new Error("proof of work needs HTTPS (Web Crypto)");
  const max = challenge.maxnumber ?? challenge.maxNumber ?? 1_000_000;
  const encoder = new TextEncoder();
  const started = performance.now();
  for (let base = 0; base <= max; base += BATCH) {
    const numbers = [];
    for (let n = base; n < Math.min(base + BATCH, max + 1); n += 1) numbers.push(n);
    const digests = await Promise.all(numbers.map((n) => crypto.subtle.digest("SHA-256", encoder.encode(challenge.salt + n))));
    const found = digests.findIndex((digest) => hex(digest) === challenge.challenge);
    if (found >= 0) {
      const payload = { algorithm: challenge.algorithm, challenge: challenge.challenge, number: numbers[found],
                        salt: challenge.salt, signature: challenge.signature,
                        took: Math.round(performance.now() - started) };
      return btoa(JSON.stringify(payload));
    }
    onProgress(Math.min(1, (base + BATCH) / max));
  }
  throw new Error("no solution found for the challenge");
}
