"""The PyTorch example VAE (github.com/pytorch/examples, vae/main.py): the one copy of its model and loss that every
benchmark compares with, and, run as a script, that example trained as its script trains it, for
benchmarks/command_benchmark.py to run beside `python -m vae_core.train`:

    python -m benchmarks.pytorch_example_vae --data images.npz --seconds 30 --out run/ [--no-accel]

Imported (`from benchmarks.pytorch_example_vae import VAE, loss_function`), it gives the model and the loss alone:
train_benchmark.py and cpu_step_benchmark.py train them in their own loops.

Kept from the example: the MLP 784-400-20 with a sigmoid decoder, the summed BCE + KL loss, Adam lr 1e-3, batch
128, seed 1, a torch DataLoader with shuffle=True (one worker process and pinned memory on an accelerator), the
batch copied to the device, loss.item() every step, a log line every 10 batches, and a test pass after each epoch.
Changed: the images come from an .npz (uint8 `x` and `x_test`, made floats in [0, 1] as ToTensor makes them) in a
TensorDataset, not from torchvision's MNIST; no sample images are written; training stops once --seconds have
passed since this process started (its start-up included; after one step at least), and the weights are saved
with safetensors beside train.json (images trained on, training seconds without the test passes, epochs).
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.utils.data
from safetensors.torch import save_file
from torch import nn, optim
from torch.nn import functional as F

IMPORTED = time.time()


def process_start_time() -> float:
    """When this process started (as vae_core.training.loop.process_start_time; Linux /proc, else the import above)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        age = float(Path("/proc/uptime").read_text().split()[0]) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return IMPORTED
    return time.time() - age if 0 <= age <= time.time() - IMPORTED + 60 else IMPORTED


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """Reconstruction + KL divergence losses summed over all elements and batch."""
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())  # 0.5 sum(1 + log sigma^2 - mu^2 - sigma^2)
    return BCE + KLD


def images(a: np.ndarray) -> torch.utils.data.TensorDataset:
    x = torch.from_numpy(a.reshape(len(a), 1, 28, 28)).float().div_(255.0)  # as transforms.ToTensor()
    return torch.utils.data.TensorDataset(x, torch.zeros(len(a), dtype=torch.long))


def arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="VAE MNIST Example (timed; see the module docstring)")
    parser.add_argument("--data", required=True, help=".npz with uint8 x and x_test (N, 1, 28, 28) or (N, 28, 28)")
    parser.add_argument("--seconds", type=float, required=True, help="stop this long after the process started")
    parser.add_argument("--out", required=True, help="folder for model.safetensors and train.json")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--no-accel", action="store_true", help="train on the CPU even where an accelerator is")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    """The example's script, timed: train until --seconds have passed since the process started, then save."""
    started = process_start_time()
    args = arguments(argv)
    use_accel = not args.no_accel and torch.accelerator.is_available()
    torch.manual_seed(args.seed)
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    kwargs = {"num_workers": 1, "pin_memory": True} if use_accel else {}

    with np.load(args.data) as f:
        train_set, test_set = images(f["x"]), images(f["x_test"])
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, **kwargs)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.batch_size, shuffle=True, **kwargs)

    model = VAE().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)

    def out_of_time(trained: int) -> bool:
        """Past the budget, once something was trained (one step at least, as vae_core.train takes)."""
        return trained > 0 and time.time() - started >= args.seconds

    def train(epoch, before: int) -> tuple[int, bool]:
        """One epoch, or what is left of the budget; returns (images trained on, whether the budget ran out)."""
        model.train()
        train_loss, seen = 0, 0
        for batch_idx, (data, _) in enumerate(train_loader):
            if out_of_time(before + seen):
                return seen, True
            data = data.to(device)
            optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
            seen += len(data)
            if batch_idx % args.log_interval == 0:
                print(f"Train Epoch: {epoch} [{batch_idx * len(data)}/{len(train_loader.dataset)} "
                      f"({100.0 * batch_idx / len(train_loader):.0f}%)]\tLoss: {loss.item() / len(data):.6f}")
        print(f"====> Epoch: {epoch} Average loss: {train_loss / len(train_loader.dataset):.4f}")
        return seen, False

    def test(epoch):
        model.eval()
        test_loss = 0
        with torch.no_grad():
            for data, _ in test_loader:
                data = data.to(device)
                recon_batch, mu, logvar = model(data)
                test_loss += loss_function(recon_batch, data, mu, logvar).item()
        print(f"====> Test set loss: {test_loss / len(test_loader.dataset):.4f}")

    trained, train_seconds, epoch, spent = 0, 0.0, 0, False
    while not spent:
        epoch += 1
        t0 = time.time()
        seen, spent = train(epoch, trained)
        trained, train_seconds = trained + seen, train_seconds + time.time() - t0
        if not spent:
            test(epoch)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(out / "model.safetensors"))
    (out / "train.json").write_text(json.dumps({
        "train_images": trained, "train_seconds": train_seconds, "epochs": epoch, "device": str(device),
        "batch_size": args.batch_size, "seconds_since_start": time.time() - started}))


if __name__ == "__main__":
    main()
