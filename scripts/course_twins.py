"""PyTorch twins of the course programs that wick's experiments carry, run as the course
writes them over many seeds, to give the spread wick's trained numbers are checked
against (tests/experiments.rs states the ranges):

    python scripts/course_twins.py [--seeds 200]

- linear regression (experiments/linear_regression.toml): nn.Linear(1, 1),
  MSELoss(reduction='sum'), SGD(lr=0.01), 100 epochs on y = 2x;
- logistic regression (experiments/logistic_regression.toml): Linear(1, 1) + sigmoid,
  BCELoss(reduction='sum'), SGD(lr=0.01), 100 epochs on x = [1, 2, 3], y = [0, 0, 1];
- the diabetes program, full batch (experiments/diabetes_full_batch.toml): 8-6-4-1 with
  sigmoids, BCELoss, SGD(lr=0.1), 100 epochs on the whole file as one batch;
- the diabetes program with mini-batches (experiments/diabetes.toml): the same model,
  DataLoader(batch_size=32, shuffle=True), 100 epochs; as in the experiment, 20 % of the
  rows are held out (random_split) to report a test accuracy;
- gradient descent by hand (experiments/gradient_descent.toml, _sgd.toml): w = 1.0,
  y = w*x, lr 0.01, 100 epochs, batch and per-sample; deterministic.
"""
import argparse

import numpy as np
import torch


def linear_regression(seed):
    torch.manual_seed(seed)
    x = torch.tensor([[1.0], [2.0], [3.0]])
    y = torch.tensor([[2.0], [4.0], [6.0]])
    model = torch.nn.Linear(1, 1)
    criterion = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(100):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.weight.item(), model.bias.item(), model(torch.tensor([[4.0]])).item(), loss.item()


def logistic_regression(seed, epochs=100):
    torch.manual_seed(seed)
    x = torch.tensor([[1.0], [2.0], [3.0]])
    y = torch.tensor([[0.0], [0.0], [1.0]])
    linear = torch.nn.Linear(1, 1)
    criterion = torch.nn.BCELoss(reduction="sum")
    optimizer = torch.optim.SGD(linear.parameters(), lr=0.01)
    for _ in range(epochs):
        loss = criterion(torch.sigmoid(linear(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return torch.sigmoid(linear(torch.tensor([[4.0]]))).item()


def diabetes_full_batch(seed, path):
    torch.manual_seed(seed)
    xy = np.loadtxt(path, delimiter=",", dtype=np.float32)
    x, y = torch.from_numpy(xy[:, :-1]), torch.from_numpy(xy[:, [-1]])
    model = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 4),
                                torch.nn.Sigmoid(), torch.nn.Linear(4, 1), torch.nn.Sigmoid())
    criterion = torch.nn.BCELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def diabetes_mini_batch(seed, path):
    torch.manual_seed(seed)
    xy = np.loadtxt(path, delimiter=",", dtype=np.float32)
    data = torch.utils.data.TensorDataset(torch.from_numpy(xy[:, :-1]), torch.from_numpy(xy[:, [-1]]))
    train, test = torch.utils.data.random_split(data, [0.8, 0.2])
    loader = torch.utils.data.DataLoader(train, batch_size=32, shuffle=True)
    model = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.Sigmoid(), torch.nn.Linear(6, 4),
                                torch.nn.Sigmoid(), torch.nn.Linear(4, 1), torch.nn.Sigmoid())
    criterion = torch.nn.BCELoss(reduction="mean")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        total, n = 0.0, 0
        for x, y in loader:
            loss = criterion(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total, n = total + loss.item() * len(x), n + len(x)
    x, y = test[:]
    with torch.no_grad():
        acc = ((model(x) > 0.5) == (y > 0.5)).float().mean().item()
    return total / n, acc


def by_hand(per_sample):
    xs, ys, w = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0], 1.0
    for _ in range(100):
        if per_sample:
            for x, y in zip(xs, ys):
                w -= 0.01 * 2 * x * (w * x - y)
        else:
            w -= 0.01 * sum(2 * x * (x * w - y) for x, y in zip(xs, ys)) / len(xs)
    return w, 4 * w


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=200)
    p.add_argument("--diabetes", default="../shared/datasets/diabetes/diabetes.csv.gz")
    a = p.parse_args()
    r = np.array([linear_regression(s) for s in range(a.seeds)])
    for name, col in zip(["w", "b", "y_pred(4)", "last loss"], r.T):
        print(f"linear regression {name}: mean {col.mean():.4f} std {col.std():.4f} "
              f"min {col.min():.4f} max {col.max():.4f} ({a.seeds} seeds)")
    for epochs in (100, 1000):
        p4 = np.array([logistic_regression(s, epochs) for s in range(a.seeds)])
        print(f"logistic regression y_pred(4) after {epochs} epochs: mean {p4.mean():.4f} "
              f"std {p4.std():.4f} min {p4.min():.4f} max {p4.max():.4f}")
    d = np.array([diabetes_full_batch(s, a.diabetes) for s in range(a.seeds)])
    print(f"diabetes full batch, loss at the 100th epoch: mean {d.mean():.4f} std {d.std():.4f} "
          f"min {d.min():.4f} max {d.max():.4f}")
    m = np.array([diabetes_mini_batch(s, a.diabetes) for s in range(a.seeds)])
    for name, col in zip(["train loss of the 100th epoch", "held-out accuracy"], m.T):
        print(f"diabetes mini-batch, {name}: mean {col.mean():.4f} std {col.std():.4f} "
              f"min {col.min():.4f} max {col.max():.4f}")
    for per_sample in (False, True):
        w, pred = by_hand(per_sample)
        kind = "per sample" if per_sample else "batch"
        print(f"gradient descent by hand ({kind}): w = {w:.6f}, predict 4 -> {pred:.6f}")
