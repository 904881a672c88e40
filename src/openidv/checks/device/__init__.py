"""Device and behaviour checks: device identity and risk (``device``), bot versus human from pointer, key and
touch telemetry (``behaviour``), and capture-session anomalies (``capture_session``). They read
``Evidence.telemetry`` (``openidv.telemetry``) and stand alone:
no face, document, liveness or graph internals."""
