#!/usr/bin/env python3
"""Ours against the better of TorchSharp's two malloc runs, from BenchmarkDotNet's CSV reports of the attention
classes (bench/ATTENTION.md says how the two artifact folders are made).

    python3 bench/attention-table.py ARTIFACTS_DEFAULT ARTIFACTS_HUGETLB
"""
import csv, glob, re, sys

UNITS = {'ns': 1e-6, 'μs': 1e-3, 'us': 1e-3, 'ms': 1.0, 's': 1e3}


def ms(cell):
    m = re.match(r'([\d.]+)\s*(\S+)', cell.replace(',', ''))
    if not m or m.group(2) not in UNITS:
        sys.exit(f'unreadable time {cell!r}')
    return float(m.group(1)) * UNITS[m.group(2)]


def load(folder):
    out = {}
    files = glob.glob(f'{folder}/results/*Attention*-report.csv') + glob.glob(f'{folder}/results/*LinearVsSoftmax*-report.csv')
    if not files:
        sys.exit(f'no attention reports under {folder}/results')
    for f in set(files):
        cls = f.split('Benchmarks.')[-1].split('-report')[0]
        for r in csv.DictReader(open(f, encoding='utf-8')):
            out[(cls, r['Method'], int(r['N']), r['Causal'])] = ms(r['Median'])
    return out


default, hugetlb = load(sys.argv[1]), load(sys.argv[2])
for cls, title in [('LinearAttentionBenchmarks', 'Ours linear (elu + 1) against TorchSharp linear attention (einsums; cumsum when causal)'),
                   ('LinearVsSoftmaxBenchmarks', 'Ours linear (elu + 1) against TorchSharp F.scaled_dot_product_attention'),
                   ('SoftmaxAttentionBenchmarks', 'Ours flash-style softmax against TorchSharp F.scaled_dot_product_attention')]:
    print(f'\n### {title}\n')
    print('| N | causal | pass | ours (ms) | TorchSharp default (ms) | TorchSharp hugetlb (ms) | better TorchSharp / ours |')
    print('| ---: | --- | --- | ---: | ---: | ---: | ---: |')
    for causal in ['False', 'True']:
        for n in [1024, 4096, 16384]:
            for p, label in [('Forward', 'forward'), ('ForwardBackward', 'forward+backward')]:
                key = lambda side: (cls, side + p, n, causal)
                if key('Ours') not in default:
                    continue
                o, td, th = default[key('Ours')], default[key('Torch')], hugetlb[key('Torch')]
                print(f'| {n} | {"yes" if causal == "True" else "no"} | {label} | {o:.3f} | {td:.3f} | {th:.3f} | **{min(td, th) / o:.1f}x** |')
