#!/usr/bin/env python3
"""Known-answer vectors for the PRF-seeded schemes (kgw-green-list v3, gumbel-max v1 and v2, synthid-tournament v1), computed
outside tracemark with the `cryptography` package (HKDF-SHA256, AES-128-ECB, AES-256-CTR) from the
definitions in docs/METHOD.md. Secret = bytes 0x00..0x1f. Writes prf_vectors.json beside this file.
Run: python3 tests/golden/make_prf_vectors.py"""
import json, math, os, struct
from decimal import Decimal, getcontext
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SECRET = bytes(range(32))
SALT = b"tracemark/hkdf-salt/v1"
M64 = (1 << 64) - 1


def hkdf(info, length):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=SALT, info=info.encode()).derive(SECRET)


def prf_seed(key16, context, width):
    data = b"".join(struct.pack("<I", i) for i in context[:width])
    blocks = max(1, (4 * width + 15) // 16)
    data = data.ljust(16 * blocks, b"\0")
    enc = Cipher(algorithms.AES(key16), modes.ECB()).encryptor()
    state = bytes(16)
    for j in range(blocks):
        state = enc.update(bytes(a ^ b for a, b in zip(state, data[16 * j:16 * j + 16])))
    return struct.unpack("<Q", state[:8])[0]


def keystream(key32, length):
    return Cipher(algorithms.AES(key32), modes.CTR(bytes(16))).encryptor().update(bytes(length))


def mix64(x):
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & M64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & M64
    x ^= x >> 31
    return x


contexts = [[1, 2], [0, 0], [50256, 17], [7, 7]]
tokens = [0, 1, 2, 13, 1000, 50256]
out = {"comment": __doc__.strip(), "green_list_v3": {}, "gumbel_max_v1": {}}

# green list v3: gamma 0.25, h 2, vocab 50257; values as version 2 from the v3 seed.
prf = hkdf("tracemark/v3/kgw-green-list/context-prf", 16)
tv = keystream(hkdf("tracemark/v2/kgw-green-list/token-values", 32), 4 * 50257)
R = lambda t: struct.unpack_from("<I", tv, 4 * t)[0]
threshold = round(0.25 * 2**32)
rows = []
for c in contexts:
    seed = prf_seed(prf, c, 2)
    vals = [((R(t) * ((seed & 0xFFFFFFFF) | 1)) & 0xFFFFFFFF) ^ (seed >> 32) for t in tokens]
    rows.append({"context": c, "seed": format(seed, "016x"),
                 "tokens": [[t, format(v, "08x"), v < threshold] for t, v in zip(tokens, vals)]})
out["green_list_v3"] = {"gamma": 0.25, "context_width": 2, "vocab_size": 50257, "contexts": rows}

# A width-6 context (two CBC blocks) for the multi-block path.
long_context = [3, 1, 4, 1, 5, 9]
out["green_list_v3_width6"] = {"context": long_context,
                               "seed": format(prf_seed(hkdf("tracemark/v3/kgw-green-list/context-prf", 16), long_context, 6), "016x")}

# gumbel-max v1: h 2, vocab 50257.
prf = hkdf("tracemark/v1/gumbel-max/context-prf", 16)
tv = keystream(hkdf("tracemark/v1/gumbel-max/token-values", 32), 8 * 50257)
R64 = lambda t: struct.unpack_from("<Q", tv, 8 * t)[0]
rows = []
for c in contexts:
    seed = prf_seed(prf, c, 2)
    rs = [min(((mix64(seed ^ R64(t)) >> 11) + 0.5) * 2.0**-53, 1 - 2.0**-53) for t in tokens]  # unit_interval: the top draw held below 1
    rows.append({"context": c, "seed": format(seed, "016x"),
                 "tokens": [[t, r.hex(), (-math.log1p(-r)).hex()] for t, r in zip(tokens, rs)]})
out["gumbel_max_v1"] = {"context_width": 2, "vocab_size": 50257, "contexts": rows}

# gumbel-max v2: h 2, vocab 50257. k = lowbias32(low32(seed) ^ R32[t]) ^ high32(seed); r = (k + 1/2) 2^-32;
# score = -ln(1 - k 2^-32), the lower end of r's cell.
M32 = (1 << 32) - 1


def lowbias32(x):
    x ^= x >> 16
    x = (x * 0x7feb352d) & M32
    x ^= x >> 15
    x = (x * 0x846ca68b) & M32
    x ^= x >> 16
    return x


prf = hkdf("tracemark/v2/gumbel-max/context-prf", 16)
tv = keystream(hkdf("tracemark/v2/gumbel-max/token-values", 32), 4 * 50257)
R32 = lambda t: struct.unpack_from("<I", tv, 4 * t)[0]
rows = []
for c in contexts:
    seed = prf_seed(prf, c, 2)
    ks = [lowbias32((seed & M32) ^ R32(t)) ^ (seed >> 32) for t in tokens]
    rows.append({"context": c, "seed": format(seed, "016x"),
                 "tokens": [[t, format(k, "08x"), ((k + 0.5) * 2.0**-32).hex(), (-math.log1p(-k * 2.0**-32)).hex()]
                            for t, k in zip(tokens, ks)]})
out["gumbel_max_v2"] = {"context_width": 2, "vocab_size": 50257, "contexts": rows}

# synthid-tournament v1: h 2, vocab 50257, m 30. g-values: the 30 low bits of mix64(seed ^ R[t]);
# the closed form p_{l+1} = p_l (1 + g_l - G_l) one layer at a time on a few candidates.
LAYERS = 30
prf = hkdf("tracemark/v1/synthid-tournament/context-prf", 16)
tv = keystream(hkdf("tracemark/v1/synthid-tournament/token-values", 32), 8 * 50257)
R64 = lambda t: struct.unpack_from("<Q", tv, 8 * t)[0]
g_of = lambda seed, t: mix64(seed ^ R64(t)) & ((1 << LAYERS) - 1)
rows = []
for c in contexts:
    seed = prf_seed(prf, c, 2)
    rows.append({"context": c, "seed": format(seed, "016x"),
                 "tokens": [[t, format(g_of(seed, t), "08x"), bin(g_of(seed, t)).count("1")] for t in tokens]})
candidates = [[0, 0.5], [1, -1.25], [2, 2.0], [13, 0.0], [1000, 1.5], [50256, -0.75]]
seed = prf_seed(prf, [1, 2], 2)


def final_distribution(layers):
    # p_0 from the doubles exp(logit - max) as tracemark computes them, then every layer in
    # 100-digit decimal arithmetic, rounded to double once at the end.
    getcontext().prec = 100
    top = max(logit for _, logit in candidates)
    weights = [Decimal(math.exp(logit - top)) for _, logit in candidates]
    p = [w / sum(weights) for w in weights]
    for layer in range(layers):
        bits = [(g_of(seed, t) >> layer) & 1 for t, _ in candidates]
        mean_g = sum(pi * b for pi, b in zip(p, bits))
        p = [pi * (1 + b - mean_g) for pi, b in zip(p, bits)]
    return [float(x).hex() for x in p]


out["synthid_tournament_v1"] = {"context_width": 2, "vocab_size": 50257, "tournament_layers": LAYERS, "contexts": rows,
                                "final_distribution": {"context": [1, 2], "candidates": candidates,
                                                       "p_by_layers": {str(m): final_distribution(m) for m in (1, 3, 30)}}}

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "prf_vectors.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
