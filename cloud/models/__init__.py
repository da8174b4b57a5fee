"""tortoise models of the cloud; cloud/db.py lists the modules (MODEL_MODULES)."""
