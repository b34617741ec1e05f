"""The Qt layer: one module per view, no business logic and no SQL (that lives in ``core``)."""
