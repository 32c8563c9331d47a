"""Draw docs/synthetic-vs-real.png: real metal-tag crops beside synthetic ones, boxes drawn.

Run from the repository root: ``python docs/make_comparison.py``. The real
crops are read from ``../shared/data/metal-tags`` (beside the repository) and
only appear here as small thumbnails; the synthetic ones come from
``qiloop.synth`` exactly as ``qiloop synth`` writes them (JPEG included).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from qiloop.labelstore.formats import labels_csv
from qiloop.synth.dataset import iter_crops

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / ".." / "shared" / "data" / "metal-tags"
THUMB = (300, 200)
COLUMNS = 4
BOX = (230, 40, 40)


def _thumb(image: Image.Image, boxes) -> Image.Image:
    image = image.convert("RGB")
    sx, sy = THUMB[0] / image.width, THUMB[1] / image.height
    image = image.resize(THUMB, Image.Resampling.LANCZOS)
    draw = ImageDraw.Draw(image)
    for b in boxes:
        draw.rectangle([b.left * sx, b.top * sy, b.right * sx - 1, b.bottom * sy - 1], outline=BOX, width=2)
    return image


def real_thumbs(count: int) -> list[Image.Image]:
    """Real crops with boxes, one per photo, spread over the data in file-name order."""
    parsed = labels_csv.read(REAL / "labels.csv")
    drafts = sorted(parsed.drafts, key=lambda d: d.image_ref)
    seen, out = set(), []
    for draft in drafts[:: max(1, len(drafts) // (3 * count))]:
        path = Path(labels_csv.map_prefix(draft.image_ref, labels_csv.REFERENCE_PREFIX, REAL))
        group = path.name.split("-cropped")[0]
        if not draft.annotations or group in seen or not path.exists():
            continue
        seen.add(group)
        out.append(_thumb(Image.open(path), draft.annotations))
        if len(out) == count:
            break
    return out


def synthetic_thumbs(count: int, seed: int) -> list[Image.Image]:
    """Synthetic crops (with boxes, and one without), after the same JPEG round trip as on disk."""
    out, shown_good = [], False
    for _, _, crop, quality in iter_crops(seed, 8 * count):
        if not crop.boxes and shown_good:
            continue
        shown_good = shown_good or not crop.boxes
        buf = io.BytesIO()
        Image.fromarray(crop.image, mode="L").convert("RGB").save(buf, "JPEG", quality=quality)
        out.append(_thumb(Image.open(buf), crop.boxes))
        if len(out) == count:
            break
    return out


def sheet(real: list[Image.Image], synthetic: list[Image.Image]) -> Image.Image:
    """Two titled bands of thumbnails, real above, synthetic below."""
    font = ImageFont.load_default(size=22)
    gap, title_h = 6, 36
    rows_r, rows_s = -(-len(real) // COLUMNS), -(-len(synthetic) // COLUMNS)
    width = COLUMNS * THUMB[0] + (COLUMNS + 1) * gap
    height = 2 * title_h + (rows_r + rows_s) * (THUMB[1] + gap) + 2 * gap
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    y = gap
    for title, thumbs in (
        ("Real photos (labelled boxes)", real),
        ("Synthetic: qiloop synth (generated boxes)", synthetic),
    ):
        draw.text((gap, y + 6), title, fill=(20, 20, 20), font=font)
        y += title_h
        for i, thumb in enumerate(thumbs):
            canvas.paste(thumb, (gap + (i % COLUMNS) * (THUMB[0] + gap), y + (i // COLUMNS) * (THUMB[1] + gap)))
        y += -(-len(thumbs) // COLUMNS) * (THUMB[1] + gap) + gap
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "synthetic-vs-real.png")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--count", type=int, default=8, help="thumbnails per band")
    args = parser.parse_args()
    if not (REAL / "labels.csv").exists():
        raise SystemExit(f"no real data at {REAL.resolve()}: this picture needs ../shared/data/metal-tags")
    image = sheet(real_thumbs(args.count), synthetic_thumbs(args.count, args.seed))
    image.quantize(colors=192, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
