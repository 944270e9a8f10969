"""gischat's image transform (gischat/app.py): Pillow open, thumbnail to a MAX_IMAGE_SIZE square with LANCZOS,
save as PNG with Pillow's defaults. Reads JSON lines {"in": path, "out": path} on stdin; answers one JSON line per
input: {"in": path, "bytes": n, "width": w, "height": h, "mode": m, "ms": t}. Usage: pillow_transform.py MAX_SIZE
"""
import json
import sys
import time
from io import BytesIO

from PIL import Image


def transform(raw: bytes, size: int) -> Image.Image:
    image = Image.open(BytesIO(raw))
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def main() -> None:
    size = int(sys.argv[1])
    for line in sys.stdin:
        job = json.loads(line)
        with open(job["in"], "rb") as f:
            raw = f.read()
        start = time.perf_counter()
        image = transform(raw, size)
        buf = BytesIO()
        image.save(buf, format="PNG")
        ms = (time.perf_counter() - start) * 1000
        with open(job["out"], "wb") as f:
            f.write(buf.getvalue())
        print(json.dumps({"in": job["in"], "bytes": len(buf.getvalue()), "width": image.width,
                          "height": image.height, "mode": image.mode, "ms": round(ms, 1)}), flush=True)


if __name__ == "__main__":
    main()
