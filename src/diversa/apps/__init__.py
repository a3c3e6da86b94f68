"""End-to-end applications built from the other layers.

Source separation and audio-visual question answering.
"""
