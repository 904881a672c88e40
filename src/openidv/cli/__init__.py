"""The ``openidv`` command line: verify, serve, keys, audit, demo, eval, thresholds."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="openidv",
    help="openidv: open-source identity verification. Documents, biometrics, liveness, policy, evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Each sub-command group lives in its own module and registers itself here.
# --- sub-command registration (one line each) ---
from openidv.cli.audit_cmd import audit_app  # noqa: E402
from openidv.cli.main_cmds import (  # noqa: E402
    demo_command,
    keys_app,
    serve_command,
    tenants_app,
    verify_command,
)

app.command("verify")(verify_command)
app.command("serve")(serve_command)
app.command("demo")(demo_command)
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
from openidv.cli.synth_cmd import synth_app  # noqa: E402
from openidv.cli.train_cmd import train_app  # noqa: E402

app.add_typer(synth_app, name="synth")
app.add_typer(train_app, name="train")
from openidv.cli.face_cmd import face_app  # noqa: E402

app.add_typer(face_app, name="face")
from openidv.cli.eval_cmd import eval_app, thresholds_app  # noqa: E402

app.add_typer(eval_app, name="eval")
app.add_typer(thresholds_app, name="thresholds")
from openidv.cli.document_cmd import document_app  # noqa: E402

app.add_typer(document_app, name="document")
from openidv.cli.liveness_cmd import liveness_app  # noqa: E402

app.add_typer(liveness_app, name="liveness")
from openidv.cli.policy_cmd import policy_app  # noqa: E402

app.add_typer(policy_app, name="policy")
from openidv.cli.subjects_cmd import crypto_app, purge_command, subjects_app  # noqa: E402

app.add_typer(subjects_app, name="subjects")
app.add_typer(crypto_app, name="crypto")
app.command("purge")(purge_command)
from openidv.cli.worker_cmd import webhooks_app, worker_command  # noqa: E402

app.command("worker")(worker_command)
app.add_typer(webhooks_app, name="webhooks")
from openidv.cli.graph_cmd import graph_app  # noqa: E402

app.add_typer(graph_app, name="graph")
from openidv.cli.graph_build_cmd import register as register_graph_build  # noqa: E402

register_graph_build(graph_app)  # `openidv graph build` and `openidv graph eval` (docs/graph.md)
from openidv.cli.behaviour_cmd import behaviour_app  # noqa: E402

app.add_typer(behaviour_app, name="behaviour")  # `openidv behaviour score` (docs/behaviour.md)
from openidv.cli.vendors_benchmark_cmd import register as register_vendors_benchmark  # noqa: E402
from openidv.cli.vendors_cmd import vendors_app  # noqa: E402

app.add_typer(vendors_app, name="vendors")  # `openidv vendors ...` (docs/vendors.md)
register_vendors_benchmark(vendors_app)  # `openidv vendors benchmark`
from openidv.cli.vendors_drift_cmd import register as register_vendors_drift  # noqa: E402

register_vendors_drift(vendors_app)  # `openidv vendors drift` and `openidv vendors rebenchmark`

from openidv.cli.users_cmd import users_app  # noqa: E402

app.add_typer(users_app, name="users")  # `openidv users ...`: review console accounts (docs/console.md)
from openidv.cli.cases_cmd import cases_app  # noqa: E402

app.add_typer(cases_app, name="cases")  # `openidv cases list|export` (docs/review.md)
# --- end of sub-command registration ---


def main() -> None:
    app()
