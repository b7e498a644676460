"""wechatpy's WeCom crypto over the inputs of shared/benches/crypto.rs.

Usage: wechatpy_bench.py INPUTS_JSON  (written by the Rust bench; tests/bench/crypto.sh runs both)

Each case is first checked to give the same output as ours, then timed: a warm-up, a loop
calibrated so that one sample takes measurement_ms / sample_size, and sample_size samples timed
with time.perf_counter_ns (the sample count and time budgets are criterion's, read from the
inputs). Garbage collection is off while timing, as timeit does. Prints JSON: per case and size,
ns/op (median and mean over the samples), the iterations per sample, and the wechatpy call.
"""

import functools
import gc
import importlib.metadata
import json
import statistics
import sys
import time

import xmltodict
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

# What each case runs, named in the output next to the figures.
CALLS = {
    "signature": "wechatpy.crypto._get_signature (WeChatSigner: sort + SHA-1)",
    "verify_url": "WeChatCrypto.check_signature (signature + base64 + AES-CBC + CorpID)",
    "push_decrypt": "WeChatCrypto.decrypt_message (xmltodict envelope + signature + decrypt)",
    "push_decrypt_parse": "WeChatCrypto.decrypt_message + xmltodict.parse(inner)['xml']",
    "reply_encrypt": "WeChatCrypto.encrypt_message (encrypt + sign + reply XML)",
}


def measure(fn, sample_size, warm_up_ns, measurement_ns):
    """ns/op of fn() over sample_size samples of a calibrated iteration count."""
    # Warm up, and learn roughly how long one call takes.
    calls = 0
    start = time.perf_counter_ns()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter_ns() - start
        if elapsed >= warm_up_ns:
            break
    per_call = elapsed / calls
    iters = max(1, int(measurement_ns / sample_size / per_call))
    loop = range(iters)
    samples = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(sample_size):
            t0 = time.perf_counter_ns()
            for _ in loop:
                fn()
            samples.append((time.perf_counter_ns() - t0) / iters)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {
        "median_ns": statistics.median(samples),
        "mean_ns": statistics.fmean(samples),
        "min_ns": min(samples),
        "iters_per_sample": iters,
        "samples": sample_size,
    }


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: wechatpy_bench.py INPUTS_JSON")
    with open(sys.argv[1], encoding="utf-8") as f:
        inp = json.load(f)
    token, ts, nonce, corp = inp["token"], inp["timestamp"], inp["nonce"], inp["corp_id"]
    prefix = inp["random_prefix"]
    # wechatpy draws the 16-byte prefix at random; the reply case uses the bench's fixed one so
    # that both sides produce the same ciphertext.
    PrpCrypto.get_random_string = lambda self: prefix
    crypto = WeChatCrypto(token, inp["encoding_aes_key"], corp)
    sample_size = inp["sample_size"]
    warm_up_ns = inp["warm_up_ms"] * 1_000_000
    measurement_ns = inp["measurement_ms"] * 1_000_000

    results = []
    for case in inp["cases"]:
        echostr, echo_sig = case["echostr"], case["echo_signature"]
        body, push_sig = case["push_body"], case["push_signature"]
        reply_plain = case["reply_plain"]

        fns = {
            "signature": functools.partial(_get_signature, token, ts, nonce, echostr),
            "verify_url": functools.partial(crypto.check_signature, echo_sig, ts, nonce, echostr),
            "push_decrypt": functools.partial(crypto.decrypt_message, body, push_sig, ts, nonce),
            "push_decrypt_parse": lambda body=body, push_sig=push_sig: xmltodict.parse(
                crypto.decrypt_message(body, push_sig, ts, nonce)
            )["xml"],
            "reply_encrypt": functools.partial(crypto.encrypt_message, reply_plain, nonce, ts),
        }

        # Same inputs, same answers as ours, before anything is timed.
        assert fns["signature"]() == echo_sig, "signature differs"
        assert fns["verify_url"]() == case["echo_plain"], "verify_url differs"
        assert fns["push_decrypt"]() == case["push_plain"], "push decrypt differs"
        parsed = fns["push_decrypt_parse"]()
        if "<MsgId>" in case["push_plain"]:
            assert parsed["MsgId"] == "4561255354251345929" and parsed["FromUserName"] == "zhangsan"
        reply = fns["reply_encrypt"]()
        assert case["reply_encrypt"] in reply and case["reply_signature"] in reply, "reply differs"

        for name, fn in fns.items():
            r = measure(fn, sample_size, warm_up_ns, measurement_ns)
            r.update(case=name, size=case["size"], label=case["label"], call=CALLS[name])
            results.append(r)
            print(f"wechatpy {name}/{case['label']}: {r['median_ns']:.0f} ns/op", file=sys.stderr)

    json.dump(
        {
            "python": sys.version.split()[0],
            "wechatpy": importlib.metadata.version("wechatpy"),
            "cryptography": importlib.metadata.version("cryptography"),
            "openssl": _openssl_version(),
            "xmltodict": importlib.metadata.version("xmltodict"),
            "results": results,
        },
        sys.stdout,
        indent=1,
    )
    print()


def _openssl_version():
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        return backend.openssl_version_text()
    except Exception:  # noqa: BLE001 - only informative
        return "?"


if __name__ == "__main__":
    main()
