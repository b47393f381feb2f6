"""Paths between two latents, as the Interpolate tab decodes them: a straight line and a great-circle arc (slerp).

    linear:  z(t) = (1 - t) z_a + t z_b
    slerp:   z(t) = (sin((1 - t) w) z_a + sin(t w) z_b) / sin w,   cos w = z_a.z_b / (|z_a| |z_b|)
for t = 0, 1/(n-1), ..., 1. Slerp keeps |z| near the norms of the ends, where N(0, I) puts its mass in high
dimensions; a straight line passes closer to the origin.
"""
import torch


def steps_of(n: int) -> torch.Tensor:
    return torch.linspace(0, 1, n)[:, None]


def linear_path(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    """(n, *a.shape) points from a to b on a straight line; a and b of any shape (a latent or a z_e grid)."""
    t = steps_of(n).reshape(n, *([1] * a.dim()))
    return (1 - t) * a + t * b  # z(t) = (1 - t) z_a + t z_b


def slerp_path(a: torch.Tensor, b: torch.Tensor, n: int) -> torch.Tensor:
    """(n, d) points from latent a (d,) to b (d,) along the great circle through them."""
    t = steps_of(n)
    omega = torch.arccos((a / a.norm() * b / b.norm()).sum().clamp(-1 + 1e-6, 1 - 1e-6))  # the angle between them
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


def quantized_path(model, x_a: torch.Tensor, x_b: torch.Tensor, n: int) -> torch.Tensor:
    """(n, C, H, W) decodes of a code model along the straight line between two images' z_e, each quantised:
    x(t) = decode(quantize((1 - t) z_e(a) + t z_e(b)))."""
    z_a, z_b = model.encode(x_a), model.encode(x_b)
    return torch.cat([model.decode(model.quantize(z)[0]) for z in linear_path(z_a, z_b, n)]).clamp(0, 1)
