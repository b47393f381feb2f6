"""The map view's info line for a click on the map: which latent was decoded there.

A click on a test image decodes its own latent mu(x). A click elsewhere decodes to_latent's blend of the nearest
images (explorer.compute.inverse): when one of them carries (nearly) all the weight it is that image's own latent;
when no image lies within the map's radius of the click the decode is interpolated, and the line names the images
it was blended from (with their classes, which may differ) and their weights.
"""
import numpy as np

from explorer.compute.inverse import LatentMap

OWN = 0.99  # the weight above which a blend is said to be one image's own latent
NAMED = 4  # images named in the line


def point_note(index: int, label_name: str) -> str:
    return f"Selected test image **#{index}**: {label_name} (decoded: its own latent mu(x))"


def click_note(mapping: LatentMap, x: float, y: float, labels: np.ndarray, label_names: list[str]) -> str:
    """The info line for a click at map position (x, y) that hit no point."""
    indices, weights = mapping.blend(x, y)
    gap = mapping.nearest_distance(x, y)

    def name(i: int) -> str:
        label = int(labels[i])
        return label_names[label] if 0 <= label < len(label_names) else "unlabelled"

    where = f"({x:.2f}, {y:.2f})"
    if weights[0] >= OWN:
        i = int(indices[0])
        return f"Clicked at {where}: decoded test image #{i}'s own latent ({name(i)}, {gap:.2f} away)"
    parts = ", ".join(f"#{int(i)} {name(int(i))} {w:.0%}" for i, w in zip(indices[:NAMED], weights[:NAMED]))
    more = f" and {len(indices) - NAMED} more" if len(indices) > NAMED else ""
    if gap > mapping.radius:
        return (f"Clicked at {where}: **interpolated** latent: no test image within {mapping.radius:.2f} of this "
                f"spot (the nearest is {gap:.2f} away); blended from {parts}{more}")
    return f"Clicked at {where}, {gap:.2f} from the nearest test image: blended from {parts}{more}"
