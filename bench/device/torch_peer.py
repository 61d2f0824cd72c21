# Peer timings on the device's GPU with PyTorch (float32, TF32 off, eager, batch 1): the same
# architectures as the bench's ONNX models (ResNet-18, MobileNet-V2 with BatchNorm folded away,
# random weights), 1024^3 and 4096^3 MatMuls, a large conv layer and resnet18's last (7x7).
# Median of N after warm-up (10 for the 4096^3 MatMul), each timed call synchronised and
# including the copy of the output to the host.
import json, statistics, sys, time
import torch
import torch.nn as nn
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = 'cuda'
N = int(sys.argv[1]) if len(sys.argv) > 1 else 50

class Basic(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.c1 = nn.Conv2d(cin, cout, 3, stride, 1); s.c2 = nn.Conv2d(cout, cout, 3, 1, 1)
        s.down = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None
    def forward(s, x):
        y = s.c2(torch.relu(s.c1(x)))
        return torch.relu(y + (s.down(x) if s.down is not None else x))

def resnet18():
    layers = [nn.Conv2d(3, 64, 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [Basic(cin, cout, stride), Basic(cout, cout, 1)]; cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))

class Inverted(nn.Module):
    def __init__(s, cin, cout, stride, t):
        super().__init__()
        h = cin * t
        m = [] if t == 1 else [nn.Conv2d(cin, h, 1), nn.ReLU6()]
        m += [nn.Conv2d(h, h, 3, stride, 1, groups=h), nn.ReLU6(), nn.Conv2d(h, cout, 1)]
        s.m = nn.Sequential(*m); s.res = stride == 1 and cin == cout
    def forward(s, x):
        return x + s.m(x) if s.res else s.m(x)

def mobilenet_v2():
    layers = [nn.Conv2d(3, 32, 3, 2, 1), nn.ReLU6()]
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            layers.append(Inverted(cin, c, s if i == 0 else 1, t)); cin = c
    layers += [nn.Conv2d(320, 1280, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1280, 1000)]
    return nn.Sequential(*layers)

def bench(f, x):
    with torch.no_grad():
        for _ in range(10): f(x).cpu()
        ts = []
        for _ in range(N):
            torch.cuda.synchronize(); t0 = time.perf_counter(); f(x).cpu(); ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)

out = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__}
img = torch.rand(1, 3, 224, 224, device=dev)
out['resnet18'] = bench(resnet18().to(dev).eval(), img)
out['mobilenet_v2'] = bench(mobilenet_v2().to(dev).eval(), img)
a = torch.rand(1024, 1024, device=dev); b = torch.rand(1024, 1024, device=dev)
out['matmul_1024'] = bench(lambda x: x @ b, a)
conv = nn.Conv2d(256, 256, 3, 1, 1).to(dev).eval()
out['conv_256x56x56_3x3'] = bench(conv, torch.rand(1, 256, 56, 56, device=dev))
conv7 = nn.Conv2d(512, 512, 3, 1, 1).to(dev).eval()
out['conv_512x7x7_3x3'] = bench(conv7, torch.rand(1, 512, 7, 7, device=dev))
a4 = torch.rand(4096, 4096, device=dev); b4 = torch.rand(4096, 4096, device=dev)
N = 10
out['matmul_4096'] = bench(lambda x: x @ b4, a4)
print(json.dumps(out))
