// A solver for ALTCHA v2's PBKDF2/SHA-256 challenge with Web Crypto (native in every browser): try counters from 0
// until PBKDF2(nonce + counter as uint32, salt, cost) starts with the challenge's keyPrefix, as the widget does.

// derivations in flight at once: Web Crypto runs them on its own threads, so a phone's cores all help
const IN_FLIGHT = 4;

function bytes(hex) {
  return Uint8Array.from(hex.match(/../g) || [], (pair) => parseInt(pair, 16));
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function derive(parameters, nonce, salt, counter) {
  const password = new Uint8Array(nonce.length + 4);
  password.set(nonce);
  new DataView(password.buffer).setUint32(nonce.length, counter);
  const key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: parameters.cost },
                                              key, (parameters.keyLength ?? 32) * 8);
  return hex(bits);
}

/** Solves `challenge` ({parameters, signature, max_counter}); resolves to the base64 `pow` payload. */
export async function solve(challenge, onProgress = () => {}) {
  const parameters = challenge.parameters;
  if (!parameters || parameters.algorithm !== "PBKDF2/SHA-256") {
    throw new Error(`unsupported algorithm ${parameters && parameters.algorithm}`);
  }
  if (!globalThis.crypto || !crypto.subtle) throw new Error("proof of work needs HTTPS (Web Crypto)");
  const nonce = bytes(parameters.nonce);
  const salt = bytes(parameters.salt);
  const prefix = parameters.keyPrefix.toLowerCase();
  const max = challenge.max_counter ?? 0xffffffff;
  const started = performance.now();
  for (let base = 0; base <= max; base += IN_FLIGHT) {
    const counters = [];
    for (let n = base; n < Math.min(base + IN_FLIGHT, max + 1); n += 1) counters.push(n);
    const keys = await Promise.all(counters.map((n) => derive(parameters, nonce, salt, n)));
    const found = keys.findIndex((key) => key.startsWith(prefix));
    if (found >= 0) {
      const payload = { challenge: { parameters, signature: challenge.signature },
                        solution: { counter: counters[found], derivedKey: keys[found],
                                    time: Math.round(performance.now() - started) } };
      return btoa(JSON.stringify(payload));
    }
    if (base % 64 === 0) onProgress(Math.min(1, (base + IN_FLIGHT) / max));
  }
  throw new Error("no solution found for the challenge");
}
