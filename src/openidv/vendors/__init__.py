"""External IDV vendors as first-class checks: adapters (``protocol``), their YAML configuration
(``config``), simulated vendors on loopback, benchmarks on the owned evaluation set, routing and drift
monitoring. The pipeline reaches vendors only through the ``vendor_router`` service (a check never does
network I/O itself); see docs/vendors.md."""
