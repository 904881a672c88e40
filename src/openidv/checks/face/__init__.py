"""Face biometrics: detection (YuNet), quality, alignment, embeddings (SFace, dlib), 1:1 match, 1:N gallery.

Modules import OpenCV and load models lazily, so importing ``openidv.checks`` never loads a face model.
See docs/face.md.
"""
