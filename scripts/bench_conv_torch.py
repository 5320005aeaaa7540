"""PyTorch's time for Conv2d forward+backward at batch 64 (the shapes of
crates/nn/benches/conv.rs): y = conv(x); y.backward(g), gradients to the input,
weight and bias; 2 threads. Prints one line per shape, in ms."""
import time

import torch

torch.set_num_threads(2)
torch.manual_seed(0)
for n, cin, hw, cout in [(64, 1, 28, 32), (64, 32, 14, 64)]:
    conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
    x = torch.randn(n, cin, hw, hw, requires_grad=True)
    g = torch.randn(n, cout, hw, hw)

    def step():
        conv(x).backward(g)

    for _ in range(10):
        step()
    times = []
    for _ in range(7):
        reps = 20
        t = time.perf_counter()
        for _ in range(reps):
            step()
        times.append((time.perf_counter() - t) / reps)
    times.sort()
    print(f"torch conv2d fwd+bwd [{n},{cin},{hw},{hw}]->{cout} 3x3 p1: "
          f"median {times[3] * 1e3:.3f} ms (min {times[0] * 1e3:.3f})")
