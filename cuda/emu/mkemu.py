#!/usr/bin/env python3
"""Turns cuda/kernels.cu into plain C++ for the CPU emulation (emu.h):
swaps the CUDA headers for emu.h and rewrites each kernel<<<grid, block, ...>>>(args)
launch into an emu_launch() call. Usage: mkemu.py kernels.cu out.cpp"""
import re
import sys

src, out = sys.argv[1], sys.argv[2]
s = open(src).read()
s = s.replace('#include <cuda_runtime.h>\n#include <mma.h>\n', '#include "emu.h"\n')
if '#include "emu.h"' not in s:
    sys.exit("mkemu.py: the CUDA includes of %s changed; update mkemu.py" % src)


def split_top(text):
    parts, depth, cur = [], 0, ''
    for ch in text:
        depth += ch == '('
        depth -= ch == ')'
        if ch == ',' and depth == 0:
            parts.append(cur.strip())
            cur = ''
        else:
            cur += ch
    return parts + [cur.strip()]


def synchronises(name):
    """Whether kernel `name` calls __syncthreads (then its threads must run
    concurrently): looks from its definition to the next kernel."""
    m = re.search(r'__global__[^;{]*?\b%s\(' % name, s)
    if not m:
        sys.exit("mkemu.py: kernel %s not found" % name)
    nxt = s.find('__global__', m.end())
    return '__syncthreads' in s[m.end():nxt if nxt >= 0 else len(s)]


def launch(m):
    name, cfg, args = m.group(1), split_top(m.group(2)), m.group(3)
    barrier = 'true' if synchronises(name) else 'false'
    return 'emu_launch([&]() { %s(%s); }, dim3(%s), dim3(%s), %s);' % (name, args, cfg[0], cfg[1], barrier)


s, count = re.subn(r'(\w+)<<<(.*?)>>>\((.*?)\);', launch, s)
if count == 0:
    sys.exit("mkemu.py: no kernel launches found in %s" % src)
open(out, 'w').write(s)
