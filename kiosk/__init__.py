"""facescreen.kiosk: guided frontal capture with quality checks, screening, a local results store,
and a server for phones and tablets. Imports edge only, never TensorFlow at import time.

The result is a screening flag ("refer for genetic evaluation" / "no referral flag"), never a
diagnosis.
"""
