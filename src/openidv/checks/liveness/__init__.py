"""Liveness: passive presentation-attack detection (``pad``), challenge-response (``active``), camera
injection and replay signals (``injection``), and face-swap detection (``deepfake``). Scores mean ``attack``.

Modules import their heavy dependencies lazily, so importing ``openidv.checks`` loads no model. The trained
models were fitted on SIMULATED attacks (``openidv synth attacks``); see docs/liveness.md for what that means.
"""
