"""Training overrides the tests share: the shortest training that still exports, gates and registers a model."""

# One epoch fine-tuning the shipped checkpoint at 320 px (without vertical flips, which one pass does not recover from).
TINY = ["model=builtin:synthetic-yolov8n.pt", "epochs=1", "imgsz=320", "batch=8", "nbs=8", "workers=0",
        "export.calibration_images=4", "export.parity_images=4", "augment.flipud=0.0"]  # fmt: skip
