"""Encoder and decoder bodies shared by the VAE and the VQ-VAE.

Convolutional bodies halve the image twice (28 -> 14 -> 7, 32 -> 16 -> 8, 64 -> 32 -> 16),
so any image size divisible by 4 works.
"""
import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    """x + conv1x1(relu(conv3x3(relu(x)))), as in the VQ-VAE paper."""

    def __init__(self, channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x):
        return x + self.block(x)


def down4(in_channels: int, width: int) -> list[nn.Module]:
    """Image (C, H, W) -> features (2 width, H/4, W/4): two 4x4 stride-2 convolutions."""
    return [nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1)]


# SUBPIXEL_TAPS[p][r]: the row k of a 4x4 stride-2 transposed kernel that output row 2i + p takes from input row
# i + r - 1 (4: none). Output row o = 2i' - 1 + k gets input row i' for k = o + 1 - 2i', so p = 0 uses k = 3 (i - 1)
# and k = 1 (i); p = 1 uses k = 2 (i) and k = 0 (i + 1).
SUBPIXEL_TAPS = torch.tensor([[3, 1, 4], [4, 2, 0]])


class ToImage(nn.ConvTranspose2d):
    """ConvTranspose2d(in, out, 4, stride=2, padding=1) for the last, thin layer of a decoder (a few channels out).

    Without autograd (evaluation, the app) it runs as a 3x3 convolution to 4 x out channels and a pixel shuffle:
    the same function of the same weights (so checkpoints are unchanged), faster on a CPU than the transposed
    convolution with so few output channels (docs/benchmarks.md, "What each CPU change bought"). Training keeps the
    transposed convolution, whose backward pass is the faster one.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 4, stride=2, padding=1)

    def subpixel_weight(self) -> torch.Tensor:
        """(4 out, in, 3, 3): output channel 4c + 2p + q holds pixel (2i + p, 2j + q) of channel c."""
        taps = SUBPIXEL_TAPS.to(self.weight.device)
        w = F.pad(self.weight, (0, 1, 0, 1))  # (in, out, 5, 5): tap 4 reads zeros
        w = w[:, :, taps[:, None, :, None], taps[None, :, None, :]]  # (in, out, p, q, 3, 3)
        return w.permute(1, 2, 3, 0, 4, 5).reshape(4 * self.out_channels, self.in_channels, 3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return super().forward(x)
        y = F.pixel_shuffle(F.conv2d(x, self.subpixel_weight().to(x.dtype), padding=1), 2)
        return y + self.bias.to(y.dtype).view(1, -1, 1, 1)


def up4(in_channels: int, width: int, out_channels: int) -> list[nn.Module]:
    """Features (in_channels, H/4, W/4) -> (out_channels, H, W): two 4x4 stride-2 transposed convolutions."""
    return [nn.ConvTranspose2d(in_channels, width, 4, stride=2, padding=1), nn.ReLU(),
            ToImage(width, out_channels)]


def conv_encoder(in_channels: int, width: int, out_channels: int, res_blocks: int = 0) -> nn.Sequential:
    """Image (C, H, W) -> feature map (out_channels, H/4, W/4), with a 3x3 convolution and residual blocks."""
    layers = [*down4(in_channels, width), nn.ReLU(), nn.Conv2d(2 * width, 2 * width, 3, padding=1)]
    layers += [ResidualBlock(2 * width) for _ in range(res_blocks)]
    layers += [nn.ReLU(), nn.Conv2d(2 * width, out_channels, 1)]
    return nn.Sequential(*layers)


def conv_decoder(in_channels: int, width: int, out_channels: int, res_blocks: int = 0) -> nn.Sequential:
    """Feature map (in_channels, H/4, W/4) -> image parameters (out_channels, H, W)."""
    layers = [nn.Conv2d(in_channels, 2 * width, 3, padding=1)]
    layers += [ResidualBlock(2 * width) for _ in range(res_blocks)]
    layers += [nn.ReLU(), *up4(2 * width, width, out_channels)]
    return nn.Sequential(*layers)


def mlp_encoder(in_features: int, hidden: int, out_features: int) -> nn.Sequential:
    """The classic PyTorch example: 784 -> 400 -> (mu, log sigma)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, out_features))


def mlp_decoder(in_features: int, hidden: int, image_shape: tuple[int, int, int]) -> nn.Sequential:
    """latent -> 400 -> image parameters of `image_shape` (C may count several numbers per pixel)."""
    c, h, w = image_shape
    return nn.Sequential(
        nn.Linear(in_features, hidden), nn.ReLU(), nn.Linear(hidden, c * h * w), nn.Unflatten(1, image_shape)
    )


def run_float32_head(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """net(x), with its last weighted layer (and what follows it) in float32 even under bf16 autocast.

    The output is an image's location (and log scale): rounded to bf16's 8 bits it would land up to half a grey
    level off, which costs a sharp discretised likelihood up to 2 nats per pixel.
    """
    head = max(i for i, layer in enumerate(net) if any(True for _ in layer.parameters()))
    h = net[:head](x)
    with torch.autocast(h.device.type, enabled=False):
        return net[head:](h.float())
