#!/usr/bin/env python3
"""Reads one bench/gpu/run.sh output folder and prints the machine block and the GPU table (markdown).

    python3 bench/gpu/summarize.py /tmp/truss-clip-bench-gpu

Inputs: machine.txt, device.jsonl (+ device-fp16.jsonl), parity.jsonl (+ parity-fp16.jsonl), python.jsonl
(tools/python_baseline.py --device ...), BenchmarkDotNet's bdn*/results/*-report-full.json (bdn: I/O binding on;
bdn-iobinding-off; bdn-tf32; bdn-fp16), breakdown.jsonl and batching.jsonl (the harness). Ratios are PyTorch's time
divided by ours (above 1: faster than PyTorch) unless a row says otherwise; medians throughout.

It refuses to print a table when device.jsonl shows that CUDA was requested and not used, so a CPU fallback can never
be read as GPU numbers.
"""
import glob
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from summarize import f, jsonl, ratio  # noqa: E402  (the CPU summary's reader and number formats)

MODEL = "vit-b-32-random"


def load_bdn(folder):
    """(type, method, parameters) -> median in ms, for one BenchmarkDotNet artifacts folder."""
    results = {}
    for path in glob.glob(os.path.join(folder, "results", "*-report-full.json")):
        with open(path) as f:
            for b in json.load(f)["Benchmarks"]:
                # Parameters as a sorted "k=v&k=v" string: BenchmarkDotNet's order follows declaration order.
                params = "&".join(sorted(p for p in b["Parameters"].split("&") if p))
                results[(b["Type"], b["Method"], params)] = b["Statistics"]["Median"] / 1e6
    return results


def main(out):
    machine = {}
    with open(os.path.join(out, "machine.txt")) as fh:
        for line in fh:
            if "=" in line:
                key, value = line.rstrip("\n").split("=", 1)
                machine[key] = value
    device = machine.get("device", "?")
    cuda = device == "cuda"
    devices = jsonl(os.path.join(out, "device.jsonl"))
    if not devices:
        sys.exit(f"{out}/device.jsonl is missing: the run stopped before its device check")
    d0 = devices[0]
    if d0["requested"] == "cuda" and not (d0["image_provider"] == d0["text_provider"] == "Cuda"):
        sys.exit(f"CUDA was requested but ONNX Runtime ran the towers on {d0['image_provider']}/{d0['text_provider']}: "
                 f"no GPU numbers exist in {out}. {d0.get('error') or ''}")

    py = {r["stage"]: r for r in jsonl(os.path.join(out, "python.jsonl"))}
    env = py.get("environment", {})
    build = py.get("model_build", {})
    main_bdn = load_bdn(os.path.join(out, "bdn"))
    io_off = load_bdn(os.path.join(out, "bdn-iobinding-off"))
    tf32 = load_bdn(os.path.join(out, "bdn-tf32"))
    fp16 = load_bdn(os.path.join(out, "bdn-fp16"))
    bd = {r["stage"]: r["median_ms"] for r in jsonl(os.path.join(out, "breakdown.jsonl"))}
    batching = {r["stage"]: r for r in jsonl(os.path.join(out, "batching.jsonl"))}
    parity = jsonl(os.path.join(out, "parity.jsonl"))
    parity16 = jsonl(os.path.join(out, "parity-fp16.jsonl"))

    def pms(stage):
        return py[stage]["median_ms"] if stage in py else None

    def tower(results, method, batch):
        return results.get(("TowerBenchmarks", method, f"Batch={batch}&Model={MODEL}"))   # sorted, as load_bdn keys

    def e2e(results, method):
        return results.get(("VitB32EndToEndBenchmarks", method, ""))

    dev = "CUDA" if cuda else "CPU"
    rows = []

    def row(measure, ours, theirs, r, note):
        rows.append(f"| {measure} | {ours} | {theirs} | {r} | {note} |")

    def compare(measure, ours, theirs, note, digits=2):
        row(measure, f"{f(ours, digits)} ms", f"{f(theirs, digits)} ms", f"{f(ratio(theirs, ours))}×", note)

    copies = "both incl. the input's copy to the device and the output's copy back" if cuda else "same inputs"
    # 1. Towers, fp32, I/O binding on (the engine's default).
    for b in (1, 8, 32):
        ours, theirs = tower(main_bdn, "Vision", b), pms(f"vision_forward_b{b}")
        row(f"Image tower, batch {b}", f"{f(ours)} ms ({f(b * 1000 / ours, 0) if ours else 'n/a'} img/s)",
            f"{f(theirs)} ms ({f(b * 1000 / theirs, 0) if theirs else 'n/a'} img/s)", f"{f(ratio(theirs, ours))}×",
            f"I/O binding on (engine default); {copies}")
    for b in (1, 8, 32):
        on, off = tower(main_bdn, "Vision", b), tower(io_off, "Vision", b)
        row(f"… I/O binding off vs on, batch {b}", f"off {f(off)} ms / on {f(on)} ms", f"{f(pms(f'vision_forward_b{b}'))} ms",
            f"{f(ratio(off, on))}× (off / on)", "ratio here: plain Run time over I/O-binding time (above 1: binding helps)")
    for b in (1, 8):
        compare(f"Text tower, 77 tokens, batch {b}", tower(main_bdn, "TextContext77", b), pms(f"text_forward_b{b}_ctx77"),
                "the work openai/CLIP always does")
    for b in (1, 8):
        ours = tower(main_bdn, "TextPrompt", b)
        row(f"Text tower, real length (7 tokens), batch {b}", f"{f(ours)} ms", f"{f(pms(f'text_forward_b{b}_ctx77'))} ms (77 tokens)",
            f"{f(ratio(pms(f'text_forward_b{b}_ctx77'), ours))}×", "engine default (dynamic sequence) vs PyTorch's fixed 77")

    # 2. The request end to end: decode + preprocess on the CPU, towers on the device.
    theirs = pms("classify_1080p_5_labels")
    for method, label, note in [
            ("Context77NoCache", "ViT-B/32 classify (1080p JPEG, 5 labels), like for like: 77-token text, no label cache",
             f"decode + preprocess on the CPU, towers on {dev}"),
            ("NoCache", "… engine default text length (real tokens only), no label cache", ""),
            ("RepeatedLabels", "… server default: label cache warm (repeated label set)", "the text tower does not run")]:
        compare(label, e2e(main_bdn, method), theirs, note, 1 if not cuda else 2)
    if bd:
        compare("… like for like, median of N timed like the Python baseline", bd.get("ctx77_classify_1080p_5_labels"), theirs, "harness breakdown")
        compare("… stage: decode the 1080p JPEG (ours vs Pillow's libjpeg-turbo), CPU", bd.get("ctx77_decode_derived"),
                pms("decode_jpeg_1920x1080"), f"on the CPU on both sides; ours: {d0.get('jpeg_decoder', 'n/a')}")
        text = pms("text_forward_b5_ctx77")
        compare("… stage: 5 labels, tokenize + text tower at 77 tokens", bd.get("ctx77_text_5_labels_no_cache"),
                None if text is None else text + (pms("tokenize_5_labels_cached") or 0), "")
        compare("… stage: image tower, batch 1 (ours incl. resize + normalize of the decoded photo)",
                bd.get("ctx77_preprocess_image_tower"), pms("vision_forward_b1"), "")

    # 3. Dynamic batching with the real image tower.
    bat, ser, unb = batching.get("batched"), batching.get("serial_b1"), batching.get("concurrent_unbatched")
    if bat and ser:
        torch_b1 = pms("vision_forward_b1")
        torch_b1_rate = 1000 / torch_b1 if torch_b1 else None
        torch_b32 = pms("vision_forward_b32")
        b = bat.get("batching") or {}
        row(f"Image tower throughput, {bat['concurrency']} concurrent one-image callers, dynamic batching "
            f"(max batch {b.get('max_batch')}, {f(b.get('max_delay_ms'), 0)} ms)",
            f"{f(bat['img_per_s'], 0)} img/s (mean batch {b.get('mean_batch')}, p50 {f(bat['p50_ms'])} ms, p99 {f(bat['p99_ms'])} ms)",
            f"{f(torch_b1_rate, 0)} img/s (serial batch 1, as the replaced server)", f"{f(ratio(bat['img_per_s'], torch_b1_rate))}×",
            f"ours serial batch 1: {f(ser['img_per_s'], 0)} img/s (batching gain {f(ratio(bat['img_per_s'], ser['img_per_s']))}×); "
            f"{bat['concurrency']} callers unbatched: {f(unb['img_per_s'], 0) if unb else 'n/a'} img/s; "
            f"PyTorch at batch 32: {f(32000 / torch_b32, 0) if torch_b32 else 'n/a'} img/s. Ratio here: img/s, ours over PyTorch's")

    # 4. Precision rows (CUDA only): TF32 flipped, and the fp16 export against PyTorch's fp16 autocast.
    precision_rows = []

    def prow(measure, ours, theirs, note):
        precision_rows.append(f"| {measure} | {f(ours)} ms | {f(theirs)} ms | {f(ratio(theirs, ours))}× | {note} |")

    if tf32:
        for b in (1, 8, 32):
            prow(f"Image tower, batch {b}, TF32", tower(tf32, "Vision", b), pms(f"vision_forward_b{b}_tf32"),
                 "ORT use_tf32=1 (its default, what the server runs) vs torch with TF32 allowed")
        for b in (1, 8):
            prow(f"Text tower, 77 tokens, batch {b}, TF32", tower(tf32, "TextContext77", b), pms(f"text_forward_b{b}_ctx77_tf32"), "as above")
    if fp16:
        diff = ""
        if parity16:
            diff = f"; fp16 export vs fp32 torch: max abs diff image {parity16[0]['image_max_abs_diff']:.1e}, text {parity16[0]['text_max_abs_diff']:.1e}"
        for b in (1, 8, 32):
            prow(f"Image tower, batch {b}, fp16", tower(fp16, "Vision", b), pms(f"vision_forward_b{b}_fp16autocast"),
                 "ORT: fp16 ONNX export (fp32 in/out); PyTorch: fp32 weights under autocast(float16)" + (diff if b == 1 else ""))
        for b in (1, 8):
            prow(f"Text tower, 77 tokens, batch {b}, fp16", tower(fp16, "TextContext77", b), pms(f"text_forward_b{b}_ctx77_fp16autocast"), "as above")
        prow("ViT-B/32 classify like for like, fp16", e2e(fp16, "Context77NoCache"), pms("classify_1080p_5_labels_fp16autocast"), "as above")
        prow("… label cache warm, fp16", e2e(fp16, "RepeatedLabels"), pms("classify_1080p_5_labels_fp16autocast"), "as above")

    # Machine block.
    def m(key, default="n/a"):
        return machine.get(key) or default

    print(("# GPU benchmark" if cuda else "# CPU DRY RUN of the GPU benchmark: a plumbing check, NOT GPU numbers") +
          f" ({m('date')}, {m('suite_seconds', '?')} s{', --quick: few repetitions' if m('quick') == '1' else ''})")
    print()
    if not cuda or m("quick") == "1" or m("model").startswith("tiny "):
        print("**Not a measurement:** " + "; ".join(x for x in [
            "ran on the CPU" if not cuda else "",
            "--quick (3 BenchmarkDotNet iterations, few Python repetitions)" if m("quick") == "1" else "",
            "tiny plumbing model (ViT-B/32 architecture shrunk to 3.5 M parameters)" if m("model").startswith("tiny ") else ""] if x) + ".")
        print()
    print("| | |")
    print("|---|---|")
    if cuda:
        print(f"| GPU | {m('gpu')} ({m('gpu_memory')}), driver {m('driver')} (CUDA {m('driver_cuda')}) |")
        print(f"| CUDA libraries ONNX Runtime loads | cuDNN {m('cudnn_for_ort')}; {m('cuda_lib_dirs')} |")
    print(f"| ONNX Runtime | Microsoft.ML.OnnxRuntime.Gpu.Linux {m('ort_package')} (runtime {d0.get('ort_version')}); "
          f"towers on {d0['image_provider']} / {d0['text_provider']}; I/O binding {'on' if d0['io_binding'] else 'off'}; "
          f"CUDA options {json.dumps(d0.get('cuda_options') or {})} |")
    print(f"| PyTorch | torch {m('torch')} (CUDA {m('torch_cuda')}, cuDNN {m('torch_cudnn')}), torchvision {m('torchvision')}, "
          f"Pillow {m('pillow')}, numpy {m('numpy')}, Python {m('python_version')}; on {env.get('device', '?')}"
          + (f", TF32 matmul {env.get('matmul_tf32')} / cuDNN {env.get('cudnn_tf32')}" if cuda else "") + " |")
    print(f"| TF32 | {m('tf32')} |")
    print(f"| .NET | {m('dotnet')} |")
    print(f"| CPU | {m('cpu')}, {m('cores')} cores, {m('ram')} RAM; {m('os')}; load {m('load_at_start')} → {m('load_at_end')} |")
    print(f"| Model | {m('model')} |")
    print(f"| fp16 | {m('fp16')} |")
    if parity:
        p0 = parity[0]
        extra = f"; PyTorch on {dev} vs the same reference: {build['device_image_max_abs_diff']:.1e}" if "device_image_max_abs_diff" in build else ""
        print(f"| Same weights | ONNX Runtime on {dev} vs torch (CPU): max abs diff image {p0['image_max_abs_diff']:.1e}, "
              f"text {p0['text_max_abs_diff']:.1e}; tokenizer ids match: {p0['tokenizer_ids_match']}{extra} |")
    print()
    print(f"| measure | Truss.Clip (.NET, ORT {dev}) | PyTorch {dev} | ratio | note |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(r)
    print()
    if precision_rows:
        print(f"Reduced precision, same run (each row says what each side runs):")
        print()
        print(f"| measure | Truss.Clip (.NET, ORT {dev}) | PyTorch {dev} | ratio | note |")
        print("|---|---|---|---|---|")
        for r in precision_rows:
            print(r)
    else:
        print(f"Reduced precision: TF32 {'n/a on CPU' if not cuda else ('not flipped (--tf32 on)' if m('tf32') == 'on' else 'no data')}; "
              f"fp16 {m('fp16')}.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/truss-clip-bench-gpu")
