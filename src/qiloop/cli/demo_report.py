"""What ``qiloop demo`` prints: each turn's labelling, training, gate and rollout, then both turns side by side."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from qiloop.cli.common import console


def step(number: int, text: str) -> None:
    console.rule(Text(f"{number}. {text}", style="bold"), align="left")


def print_labelling(result) -> None:
    """A short table of a bot-labelled job: images, agreement, the sloppy bot, the label-store version."""
    table = Table("job " + result.job, "result")
    rate = result.tasks / result.seconds if result.seconds > 0 else 0.0
    table.add_row("images labelled (APPROVED)", f"{len(result.records)} of {result.images}")
    table.add_row("tasks (incl. gold)", f"{result.tasks} in {result.seconds:.1f} s ({rate:.1f}/s)")
    table.add_row("bot verifier", f"approved {result.approved}, rejected {result.rejected} (sent to a new round)")
    table.add_row("mean agreement", f"{result.agreement:.2f}")
    q = result.quality
    table.add_row("vs generator truth", f"F1@0.5 {q.f1:.3f}, mean IoU {q.mean_iou:.3f}")
    for name in result.sloppy:
        w = result.workers[name]
        gold = "-" if w.mean_f1 is None else f"{w.mean_f1:.2f}"
        flag = Text("flagged", style="red") if w.flagged else "not flagged"
        table.add_row(f"sloppy bot {name}", f"gold F1 {gold} on {w.gold_items}, weight {w.reliability:.2f}, {flag}")
    careful = [w for n, w in result.workers.items() if n not in result.sloppy]
    if careful:
        low = min(w.reliability for w in careful)
        table.add_row("careful bots", f"{len(careful)}, weight ≥ {low:.2f}, {sum(w.flagged for w in careful)} flagged")
    table.add_row("label-store version", str(result.label_store_version))
    console.print(table)
    if result.records:
        r = result.records[0]
        console.print(
            f"  provenance of one record: job {r.labeling_job}, annotators {', '.join(r.annotators)}, "
            f"agreement {r.agreement:.2f}, verifier {r.verifier}, source {r.source.value}",
            highlight=False,
            soft_wrap=True,
        )


def print_triggers(report) -> None:
    """Which trigger started each step of an orchestrated turn (sensor, run key, run), or why it started none."""
    if not report.triggers:
        return
    table = Table("step", "trigger", "run key", "run", "seconds")
    for t in report.triggers:
        verdict = ("ok" + (f" ({t.detail})" if t.detail else "")) if t.success else "FAILED"
        run = f"{t.job} {t.run_id[:8]} {verdict}" if t.started else f"none: {t.detail}"
        table.add_row(t.step, t.sensor, t.run_key or "-", run, f"{t.seconds:.1f}")
    console.print(table)


def print_orchestration_cost(reports: Sequence, *, import_s: float) -> None:
    """What the orchestration added: importing it, and its ticks and runs beyond the steps' own work."""
    triggers = [t for r in reports for t in r.triggers]
    if not triggers:
        return
    runs = [t for t in triggers if t.started]
    overhead = sum(t.dagster_s for t in triggers)
    console.print(
        f"  the orchestration's part: {import_s:.1f} s to import it, {overhead:.1f} s in {len(triggers)} trigger "
        f"ticks and {len(runs)} runs beyond the steps' own work (runs took {sum(t.seconds for t in runs):.1f} s)",
        highlight=False,
        soft_wrap=True,
    )


def print_turn(report) -> None:
    """Everything one turn did, in the order it happened."""
    console.print(f"  what turn {report.number} did:")
    print_triggers(report)
    opened = report.opened
    if opened is not None:
        how = opened.prelabel_source or "none"
        console.print(
            f"  job {opened.name}: {opened.images} {report.source} images, pre-labels: {how} "
            f"({opened.prelabelled} images shown with boxes)",
            highlight=False,
            soft_wrap=True,
        )
    if report.labelled is not None:
        print_labelling(report.labelled)
    c = report.candidate
    if c is not None:
        m = c.metrics
        console.print(
            f"  test split ({c.splits.get('test', 0)} images): mAP50 {m['mAP50']:.3f}, mAP50-95 {m['mAP50-95']:.3f}, "
            f"precision {m['precision']:.3f}, recall {m['recall']:.3f} at the operating point "
            f"(confidence {_confidence(c)}, chosen on the validation split)",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  package: {c.package} ({c.package_bytes['fp32'] / 1e6:.1f} MB FP32, "
            f"{c.package_bytes['int8'] / 1e6:.1f} MB INT8), parity: {c.parity}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"  gate: {'passed' if c.passed else 'REFUSED'}", highlight=False, soft_wrap=True)
        for check in c.checks:
            console.print(f"    {'ok  ' if check.passed else 'FAIL'} {check.detail}", highlight=False, soft_wrap=True)
        if c.version is None:
            console.print(
                "  the candidate is kept as an MLflow run, not registered: nothing will be deployed", soft_wrap=True
            )
        else:
            console.print(f"  registered {c.version} ({c.approval})", highlight=False, soft_wrap=True)
    if report.promotion is not None:
        verdict = "approve" if report.promotion.promote else "do not approve"
        console.print(f"  promotion rule: {verdict} — {report.promotion.reason}", highlight=False, soft_wrap=True)
    if report.approved is not None:
        console.print(
            f"  approved {report.approved.version} on the record; production is now {report.approved.production}",
            highlight=False,
            soft_wrap=True,
        )
    r = report.rollout
    if r is not None:
        outcome = ", ".join(f"{d} {s}" for d, s in sorted(r.outcome.items()))
        console.print(
            f"  rollout of {' + '.join(r.components)}: {r.phase} in {r.seconds:.1f} s "
            f"(canary {', '.join(r.canaries) or '-'}; {outcome}) {r.reason}",
            highlight=False,
            soft_wrap=True,
        )
    k = report.collected
    if k is not None:
        table = Table("results stored", "failed inspection", "feedback images sent back", "by reason", "by model")
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(k.feedback_by_reason.items())) or "-"
        models = ", ".join(f"{m} {v}" for m, v in sorted(k.by_model.items())) or "-"
        table.add_row(str(k.results), str(k.failed), str(k.feedback), reasons, models)
        console.print(table)


def print_side_by_side(reports: Sequence) -> None:
    """Both turns in one table: labels, training, figures, the gate and what was deployed."""
    if not reports:
        return
    table = Table("", *(f"turn {r.number}" for r in reports), title="the loop, turn by turn")

    def row(name: str, value) -> None:
        table.add_row(name, *(value(r) for r in reports))

    row("started by (triggers)", _started_by)
    row("labelled in the turn", lambda r: f"{r.labelled.approved if r.labelled else 0} {r.source} images")
    row("label-store version trained on", lambda r: _get(r.candidate, "label_store_version"))
    row("training images (train/val/test)", lambda r: _splits(r.candidate))
    row("started from", lambda r: _short(r.candidate.started_from) if r.candidate else "-")
    row("epochs", lambda r: _get(r.candidate, "epochs"))
    row("test mAP50", lambda r: _metric(r.candidate, "mAP50"))
    row("recall at operating point", lambda r: _metric(r.candidate, "recall"))
    row("precision at operating point", lambda r: _metric(r.candidate, "precision"))
    row("production's mAP50, same images", lambda r: _champion(r.candidate))
    row("gate", lambda r: "-" if r.candidate is None else ("passed" if r.candidate.passed else "refused"))
    row("registered", lambda r: _get(r.candidate, "version"))
    row("deployed to the line", lambda r: r.deployed or "nothing")
    row("line runs after the turn", lambda r: r.production or "nothing")
    row(
        "images inspected / sent back",
        lambda r: f"{r.collected.results} / {r.collected.feedback}" if r.collected else "-",
    )
    row(
        "seconds (label, train, deploy)",
        lambda r: " / ".join(f"{r.seconds.get(k, 0):.0f}" for k in ("label", "train", "deploy")),
    )
    console.print(table)


def _started_by(report) -> str:
    if not report.triggers:
        return "direct calls"
    return " → ".join(t.sensor for t in report.triggers if t.started) or "no trigger fired"


def _confidence(candidate) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in candidate.operating_confidence.items()) or "-"


def _get(obj, name: str) -> str:
    value = getattr(obj, name, None) if obj is not None else None
    return "-" if value is None else str(value)


def _metric(candidate, name: str) -> str:
    return "-" if candidate is None else f"{candidate.metrics.get(name, float('nan')):.3f}"


def _champion(candidate) -> str:
    if candidate is None or not candidate.champion:
        return "- (none yet)"
    return f"{candidate.champion_metrics.get('mAP50', float('nan')):.3f} ({candidate.champion})"


def _splits(candidate) -> str:
    if candidate is None:
        return "-"
    return "/".join(str(candidate.splits.get(k, 0)) for k in ("train", "val", "test"))


def _short(model: str) -> str:
    return model if len(model) <= 40 else "…" + model[-39:]
