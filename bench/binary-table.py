#!/usr/bin/env python3
"""BINARY.md's tables from the flops TSVs of BenchmarkDotNet runs (FlopsTsvExporter).

    bench/binary-table.py /tmp/B-default /tmp/B-hugetlb [/tmp/B-avx2]

Ours from the first (default malloc) run, TorchSharp the better of the first two runs' medians. The binary
peak is BinaryPeakBenchmarks' loop on all threads in the first run; "possible vs our fp32" divides it by our
fp32 kernel's GFLOP/s at the shape: the packed/fp32 ratio a kernel running at the binary peak would reach.
A third run (DOTNET_EnableAVX512=0) adds the 256-bit peaks and the packed convs on the AVX2 paths.
"""
import glob
import os
import sys


def load(root):
    rows = {}
    for path in glob.glob(os.path.join(root, "**", "*-flops.tsv"), recursive=True):
        with open(path) as f:
            next(f)
            for line in f:
                cls, method, _, params, median, _, gflops, _ = line.rstrip("\n").split("\t")
                p = dict(kv.split("=", 1) for kv in params.split(",")) if params != "-" else {}
                key = (cls, method, p.get("Case", p.get("Threads", "")), p.get("Batch", ""))
                rows[key] = (float(median) if median != "NA" else None, float(gflops) if gflops != "NA" else None)
    return rows


def ms(ns):
    return "-" if ns is None else f"{ns / 1e6:.3f}" if ns >= 1e5 else f"{ns / 1e6:.4f}"


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.1f}x"


def main():
    runs = [load(d) for d in sys.argv[1:]]
    a, b = runs[0], runs[1]
    peak = lambda r, m, t: (r.get(("BinaryPeakBenchmarks" if m.startswith("Xnor") else "PeakBenchmarks", m, t, "")) or (None, None))[1]
    xnor_all = peak(a, "Xnor512", "2") or peak(a, "Xnor256", "2")
    print(f"Peaks (same run, 2 threads / 1 thread, GFLOP/s or binary GOPS): Fma512 {peak(a, 'Fma512', '2')} / {peak(a, 'Fma512', '1')}; "
          f"Fma256 {peak(a, 'Fma256', '2')} / {peak(a, 'Fma256', '1')}; Xnor512 {peak(a, 'Xnor512', '2')} / {peak(a, 'Xnor512', '1')}; "
          f"Xnor256 {peak(a, 'Xnor256', '2')} / {peak(a, 'Xnor256', '1')}")
    if len(runs) > 2:
        c = runs[2]
        print(f"AVX2 run (DOTNET_EnableAVX512=0): Fma256 {peak(c, 'Fma256', '2')} / {peak(c, 'Fma256', '1')}; "
              f"Xnor256 {peak(c, 'Xnor256', '2')} / {peak(c, 'Xnor256', '1')}")
    for cls, title in (("BinaryConvBenchmarks", "BinaryConvBenchmarks"), ("BinaryLinearBenchmarks", "BinaryLinearBenchmarks")):
        conv = cls == "BinaryConvBenchmarks"
        print(f"\n### {title}\n")
        head = ["case", "batch", "TorchSharp fp32 (ms, better malloc)", "ours fp32 (ms)", "ours packed (ms)", "packed GOPS",
                "% of binary peak", "packed vs our fp32", "possible vs our fp32", "packed vs TorchSharp"]
        if conv:
            head += ["pack+packed vs TorchSharp", "packed to bits (ms)", "to bits vs our fp32"]
        print("| " + " | ".join(head) + " |")
        print("| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |")
        keys = sorted({(k[2], k[3]) for k in a if k[0] == cls}, key=lambda k: (k[0], int(k[1])))
        for case, batch in keys:
            g = lambda r, m: (r.get((cls, m, case, batch)) or (None, None))
            torch = [t for t in (g(a, "TorchFp32")[0], g(b, "TorchFp32")[0]) if t is not None]
            torch = min(torch) if torch else None
            fp32, fp32_g = g(a, "OursFp32")
            packed, packed_g = g(a, "OursPacked")
            row = [case, batch, ms(torch), ms(fp32), ms(packed), f"{packed_g:.1f}" if packed_g else "-",
                   f"{100 * packed_g / xnor_all:.0f}%" if packed_g and xnor_all else "-",
                   ratio(fp32, packed), ratio(xnor_all, fp32_g), ratio(torch, packed)]
            if conv:
                both = g(a, "OursPackAndPacked")[0]
                bits = g(a, "OursPackedToBits")[0]
                row += [ratio(torch, both), ms(bits), ratio(fp32, bits)]
            print("| " + " | ".join(row) + " |")
    if len(runs) > 2:
        c = runs[2]
        xa = peak(c, "Xnor256", "2")
        print("\n### BinaryConvBenchmarks, AVX2 paths (DOTNET_EnableAVX512=0; our kernels and TorchSharp on 256-bit code)\n")
        head = ["case", "batch", "TorchSharp fp32 (ms)", "ours fp32 (ms)", "ours packed (ms)", "packed GOPS", "% of binary peak",
                "packed vs our fp32", "possible vs our fp32", "packed vs TorchSharp", "packed to bits (ms)"]
        print("| " + " | ".join(head) + " |")
        print("| " + " | ".join(["---"] + ["---:"] * (len(head) - 1)) + " |")
        keys = sorted({(k[2], k[3]) for k in c if k[0] == "BinaryConvBenchmarks"}, key=lambda k: (k[0], int(k[1])))
        for case, batch in keys:
            g = lambda m: (c.get(("BinaryConvBenchmarks", m, case, batch)) or (None, None))
            torch = g("TorchFp32")[0]
            fp32, fp32_g = g("OursFp32")
            packed, packed_g = g("OursPacked")
            print("| " + " | ".join([case, batch, ms(torch), ms(fp32), ms(packed), f"{packed_g:.1f}" if packed_g else "-",
                                       f"{100 * packed_g / xa:.0f}%" if packed_g and xa else "-", ratio(fp32, packed),
                                       ratio(xa, fp32_g), ratio(torch, packed), ms(g("OursPackedToBits")[0])]) + " |")


if __name__ == "__main__":
    main()
