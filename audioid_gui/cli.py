"""The ``audioid`` command: batch work from a terminal, over the same core the GUI uses.

    audioid scan FOLDER|PLAYLIST ... [--segment last:10] [--workers N] [--dask tcp://HOST:8786 [--path-map A=B]]
    audioid status | errors | features --export FILE.csv | demo | export-clips --out DIR
    audioid labels export FILE.csv | labels import FILE.csv|FILE.json
    audioid cluster [--method ward] [--k 3 | --height H] [--pca 0.8] [--export-m3u DIR] [--assign N=CLASS]
    audioid train [--fold Both=Music] | predict [--export-csv F] [--export-m3u DIR] | queue --n 20
    audioid label PATH CLASS
    audioid review PLAYLIST [--sample 20 --seed 1] [--report] [--refine DIR]
    audioid tag [--mode replace|append|fill] [--min-confidence 0.9] [--dry-run] | tag --undo [BATCH] | --history

``--project`` goes before or after the command and defaults to ``$AUDIOID_PROJECT``, else
``audioid.sqlite`` in the current folder.  Commands that only read open the project read-only, so
they run while the window has it open.  Each command imports the numeric stack (and the analysis,
learning and clustering modules) itself, only when it runs: a script that labels ten tracks
should not pay ten times for scikit-learn.  Exit codes: see ``EXIT_CODES_HELP``.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import json
import logging
import signal
import sys
import textwrap
import time
from collections.abc import Sequence as SequenceABC
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence, TextIO

from . import __version__
from .core.tasks import Cancelled, CancelToken, ItemError, Pace, Progress
from .core.wording import plural

if TYPE_CHECKING:  # the numeric stack is imported by the commands that use it: see ``main``
    from .core.audio import SegmentSpec
    from .core.clustering import Cluster, Clustering, LabelState
    from .core.distributed import DaskScheduler
    from .core.extraction import ExtractionReport
    from .core.project import FeatureTable, ImportReport, Project
    from .core.selection import Predictions

log = logging.getLogger(__name__)


# What ``audioid`` exits with, so that scripts can tell a partial failure from a usage mistake.
EXIT_OK = 0
EXIT_FAILED = 1  # the command ran, but some of what it was asked for failed (see its messages)
EXIT_USAGE = 2  # bad arguments, or the project cannot be used (missing, in use, newer, not a project)
EXIT_STOPPED = 130  # stopped with Ctrl-C; finished work is kept

# What ``_only_reads`` lets run beside a writer, in words (for --help and the "in use" message).
READ_ONLY_TEXT = ("status, errors, features, queue, cluster without --assign, labels export, export-clips, "
                  "tag --dry-run/--history")

EXIT_CODES_HELP = f"""exit status:
  {EXIT_OK}    done
  {EXIT_FAILED}    done, but some items failed: files that could not be found, read, decoded or tagged,
       label rows that matched no track or class (each one is printed; see also `audioid errors`);
       or stopped part-way because the disk is full or the project file is damaged (what was
       finished is kept)
  {EXIT_USAGE}    nothing done: bad arguments, or the project is missing, newer, not a project, or
       in use by another window or command; commands that only read still work then:
{textwrap.fill(READ_ONLY_TEXT, 96, initial_indent=" " * 7, subsequent_indent=" " * 7)}
  {EXIT_STOPPED}  stopped with Ctrl-C; what was finished is kept, and a re-run resumes"""


class ProgressBar:
    """``[=====>      ] 12,480/30,000  41 files/s  eta 7m`` on a terminal; a line every few
    seconds when the output is a file or a CI log."""

    def __init__(self, stream: TextIO = sys.stderr, unit: str = "files") -> None:
        self.stream = stream
        self.unit = unit
        self.tty = stream.isatty()
        self.pace = Pace()
        self.last_draw = 0.0 if self.tty else time.monotonic()
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        line = self.render(p)  # every report, so that the pace sees the first finished item
        finished = p.total and p.done >= p.total
        if now - self.last_draw < (0.1 if self.tty else 5.0) and not finished:
            return
        self.last_draw = now
        if self.tty:
            self.stream.write("\r" + line.ljust(79)[:79])
            self.drawn = True
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def render(self, p: Progress) -> str:
        estimate = self.pace(p)
        if not p.total:
            return f"{p.message}"
        width = 12
        filled = int(width * min(p.done, p.total) / p.total)
        bar = "=" * filled + (">" if filled < width else "") + " " * max(0, width - filled - 1)
        if p.done >= p.total:  # the last line stays on screen: how long it took, not a guess
            return f"[{bar}] {p.done:,}/{p.total:,}  done in {time.monotonic() - self.started:.1f} s"
        if estimate is None:  # the first files are still on their way: no figure yet beats a wild one
            return f"[{bar}] {p.done:,}/{p.total:,}  eta ?"
        return f"[{bar}] {p.done:,}/{p.total:,}  {estimate.rate:.0f} {self.unit}/s  eta {estimate.left_text()}"

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


class _CtrlC:
    """First Ctrl-C asks the job to stop cleanly (finished work is kept); a second one aborts."""

    def __init__(self, token: CancelToken) -> None:
        self.token = token
        self.previous: Callable | int | None = None

    def __enter__(self) -> "_CtrlC":
        self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_: object) -> None:
        if self.token.cancelled:
            raise KeyboardInterrupt
        self.token.cancel()
        print("\nStopping after the files in progress... (Ctrl-C again to abort; a re-run resumes)", file=sys.stderr)

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self.previous)


# -- commands -------------------------------------------------------------------------------------


def cmd_scan(args: argparse.Namespace, project: Project) -> int:
    return _scan(project, args.paths, args)


def cmd_demo(args: argparse.Namespace, project: Project) -> int:
    from .core.demo import demo_sources

    # The clips are copied beside the project, so that tagging the demo changes copies only.
    return _scan(project, demo_sources(copy_to=project.path.with_name(f"{project.path.stem} library")), args)


def _scan(project: Project, sources: Sequence[Path | str], args: argparse.Namespace) -> int:
    """Import, then extract (on a Dask cluster with --dask): EXIT_FAILED when a source, a file or
    the cluster could not be used; EXIT_USAGE, before anything is imported, without the cluster extra."""
    from .core.distributed import ClusterError
    from .core.extraction import run_extraction

    try:
        scheduler = _dask_scheduler(args)
    except ClusterError as exc:
        print(f"audioid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.segment:
        project.segment = args.segment
    if args.retry_failed:
        project.forget_track_errors()
    token = CancelToken()
    with _CtrlC(token):
        bar = ProgressBar()
        imported = project.import_sources(sources, progress=bar, cancel=token)
        bar.close()
        _print_import(imported)
        if token.cancelled:
            return EXIT_STOPPED
        bar = ProgressBar()
        try:
            extracted = run_extraction(project, workers=args.workers, progress=bar, cancel=token, scheduler=scheduler)
        except ClusterError as exc:
            bar.close()
            print(f"audioid: {exc}\n  What was finished is kept; run the scan again to resume.", file=sys.stderr)
            return EXIT_FAILED
        bar.close()
    _print_extraction(extracted, project.segment)
    if extracted.cancelled:
        return EXIT_STOPPED
    return EXIT_FAILED if imported.errors or extracted.errors else EXIT_OK


def _dask_scheduler(args: argparse.Namespace) -> Optional[DaskScheduler]:
    """The cluster that --dask names, None for the local pool; ClusterError without the extra.
    (A playlist a review imports is scanned with a namespace of its own, which names none.)"""
    from .core.distributed import ClusterError, DaskScheduler, require_distributed

    address = getattr(args, "dask", None)
    if address is None:
        if getattr(args, "path_map", None):
            raise ClusterError("--path-map tells the workers of --dask where the files are; "
                               "name the scheduler with --dask")
        return None
    require_distributed()
    return DaskScheduler(address, tuple(args.path_map or ()))


def _print_import(r: ImportReport) -> None:
    print(f"Imported: {r.added:,} new, {r.updated:,} changed, {r.unchanged:,} unchanged tracks", end="")
    print(f"; playlists: {', '.join(r.playlists)}" if r.playlists else "")
    for note in r.notes:
        print(f"  note: {note}")
    _print_item_errors(r.errors)


def _print_item_errors(errors: Sequence[ItemError], shown: int = 20) -> None:
    """The first ``shown`` problems of a run, paths readable whatever bytes their names hold; the
    rest are one line away (all of them are in the project)."""
    from .core.library import readable

    for e in errors[:shown]:
        print(f"  {e.stage}: {readable(e.path)}: {e.message}")
    if len(errors) > shown:
        print(f"  ... and {len(errors) - shown:,} more: see `audioid errors`")


def _print_extraction(r: ExtractionReport, segment: SegmentSpec) -> None:
    if r.planned == 0:
        print(f"Features: nothing to do, every track is up to date (segment {segment})")
        return
    rate = f" in {r.seconds:.1f} s ({r.files_per_second:.1f} files/s)" if r.seconds else ""
    print(f"Features ({segment}): {r.extracted:,} extracted, {r.failed:,} failed{rate}")
    if r.cancelled:
        print(f"Stopped: {r.planned - r.extracted - r.failed:,} files left for the next scan")
    _print_item_errors(r.errors)


def cmd_status(args: argparse.Namespace, project: Project) -> int:
    from .core.features import VERSION
    from .core.library import readable

    s = project.status(VERSION)
    gone = project.gone_tracks(VERSION)
    print(f"Project:    {readable(project.path)}")
    print(f"Segment:    {s.segment}   (feature recipe v{s.extractor_version}; remembered, change with scan --segment)")
    print(f"Tracks:     {s.tracks:,}")
    if gone.tracks:
        print(f"Gone:       {plural(gone.tracks, 'track')} whose file was deleted or renamed   (see `audioid errors`)")
    print(f"Extracted:  {s.extracted:,}" + _of_them_gone(gone.extracted))
    print(f"Stale:      {s.stale:,}")
    print(f"Pending:    {s.pending:,}")
    print(f"Failed:     {s.failed:,}" + (f"   (+{plural(s.other_errors, 'import problem')})" if s.other_errors else ""))
    print(f"Playlists:  {s.playlists:,}")
    _print_labels(s.per_class, s.by_ear, gone.labelled)
    print(f"Training:   {_remembered_training(project)}")
    return EXIT_OK


def _of_them_gone(n: int) -> str:
    """How many of a count are tracks whose file is gone, when any are."""
    return f"   ({n:,} of them gone from disk)" if n else ""


def _print_labels(per_class: dict[str, int], by_ear: dict[str, int], gone: int) -> None:
    """Labels by ear apart from the rest (from clusters): training counts the first kind only,
    unless told otherwise with --cluster-weight.  ``gone`` of them are on tracks whose file is gone."""
    heard, total = sum(by_ear.values()), sum(per_class.values())
    print(f"Labelled:   {total:,}   ({heard:,} by ear, {total - heard:,} from clusters)" + _of_them_gone(gone))
    width = max(10, *(len(name) + 2 for name in per_class))
    print(f"  {'':<{width}}{'by ear':>8}{'clusters':>10}")
    for name, n in per_class.items():
        print(f"  {name:<{width}}{by_ear.get(name, 0):>8,}{n - by_ear.get(name, 0):>10,}")


# The options `audioid train` remembers in the project, by the name they are stored under.
REMEMBERED_TRAINING = {"model": "--model", "grouping": "--fold", "cluster_weight": "--cluster-weight", "folds": "--folds"}


def _remembered_training(project: Project) -> str:
    """The training options the project remembers, as the options that set them; read from the
    setting directly, so that ``status`` does not load scikit-learn."""
    stored = json.loads(project.setting("training") or "{}")
    shown = []
    for key, option in REMEMBERED_TRAINING.items():
        if key not in stored:
            continue
        value = stored[key]
        if key == "grouping":
            shown.extend(f"--fold {a}={b}" for a, b in value.items())
        else:
            shown.append(f"{option} {value:g}" if isinstance(value, float) else f"{option} {value}")
    return "  ".join(shown) + "   (remembered; change with train)" if shown else "the defaults (nothing remembered yet)"


def cmd_errors(args: argparse.Namespace, project: Project) -> int:
    from .core.library import readable

    errors = project.errors()
    for e in errors:
        print(f"{readable(e.path)}\t{e.stage}\t{e.message}")
    if not errors:
        print("No errors.")
    return EXIT_OK


def cmd_features(args: argparse.Namespace, project: Project) -> int:
    from .core.features import VERSION

    table = project.feature_table(VERSION)
    if not args.export:
        print(f"{len(table.paths):,} tracks x {len(table.names)} features (segment {project.segment})")
        print(", ".join(table.names))
        return EXIT_OK
    if args.export == "-":
        _write_feature_csv(sys.stdout, table)
        return EXIT_OK
    with open(args.export, "w", newline="", encoding="utf-8") as out:
        _write_feature_csv(out, table)
    print(f"Wrote {len(table.paths):,} rows x {len(table.names)} features to {args.export}")
    return EXIT_OK


def _write_feature_csv(out: TextIO, table: FeatureTable) -> None:
    writer = csv.writer(out)
    writer.writerow(["path", *table.names])
    for path, row in zip(table.paths, table.matrix):
        writer.writerow([path, *(f"{v:.7g}" for v in row)])


def cmd_export_clips(args: argparse.Namespace, project: Project) -> int:
    from .core.clips import export_clips

    segment = args.segment or project.segment
    if args.playlist:
        playlists = project.playlists()
        if args.playlist not in playlists:
            print(f"No playlist named {args.playlist!r}; the project has: {', '.join(playlists) or 'none'}",
                  file=sys.stderr)
            return EXIT_USAGE
        sources = playlists[args.playlist]
    else:
        sources = project.track_paths()
    token = CancelToken()
    with _CtrlC(token):
        bar = ProgressBar(unit="clips")
        result = export_clips(sources, Path(args.out), segment, args.format, progress=bar, cancel=token)
        bar.close()
    print(f"Wrote {len(result.written):,} clips ({segment}) to {args.out}; {len(result.errors):,} failed")
    for e in result.errors:
        print(f"  {e.stage}: {e.path}: {e.message}")
    return EXIT_STOPPED if result.cancelled else (EXIT_FAILED if result.errors else EXIT_OK)


def cmd_labels(args: argparse.Namespace, project: Project) -> int:
    from .core.labels_io import LabelFileError, export_labels, import_labels, write_labels
    from .core.library import readable

    if args.action == "export" and args.file == "-":
        n = write_labels(project, sys.stdout)
        print(f"Wrote {plural(n, 'label')} to standard output", file=sys.stderr)
        return EXIT_OK
    if args.action == "export":
        n = export_labels(project, Path(args.file))
        print(f"Wrote {plural(n, 'label')} to {readable(args.file)}")
        return EXIT_OK
    try:
        result = import_labels(project, Path(args.file), source=args.source)
    except LabelFileError as exc:
        print(f"audioid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Imported {plural(result.imported, 'label')} from {readable(args.file)}")
    for written in result.unknown_tracks:
        print(f"  not in the project: {readable(written)}")
    for written in result.ambiguous_tracks:
        print(f"  several tracks have this name, give its path: {readable(written)}")
    for label, n in result.unknown_classes.items():
        print(f"  unknown class {label!r} ({n:,} rows); the project has: {', '.join(c.name for c in project.classes())}")
    left_out = result.unknown_tracks or result.ambiguous_tracks or result.unknown_classes
    return EXIT_FAILED if left_out else EXIT_OK


def cmd_cluster(args: argparse.Namespace, project: Project) -> int:
    from .core.clustering import ClusteringError, LabelState, class_groups, cluster_features, cluster_groups, export_playlists
    from .core.features import VERSION

    token = CancelToken()
    try:
        with _CtrlC(token):
            bar = ProgressBar(unit="merges")
            clustering = cluster_features(project.feature_table(VERSION), args.method, args.pca,
                                          progress=bar, cancel=token)
            bar.close()
    except ClusteringError as exc:
        print(f"audioid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Cancelled:
        return EXIT_STOPPED
    clusters = clustering.cut(k=args.k) if args.height is None else clustering.cut(height=args.height)
    classes = [c.name for c in project.classes()]
    if args.assign:
        status = _assign(project, clustering, clusters, args.assign, classes)
        if status:
            return status
    labels = LabelState.of(clustering, project.track_labels(), classes)
    _print_clusters(clustering, clusters, labels)
    if args.export_m3u:
        groups = class_groups(clusters, labels) if args.by_class else cluster_groups(clusters)
        written = export_playlists(clustering, groups, Path(args.export_m3u))
        print(f"Wrote {len(written)} playlists to {args.export_m3u}")
    return EXIT_OK


def _assign(project: Project, clustering: Clustering, clusters: list[Cluster], assignments: list[str],
            classes: list[str]) -> int:
    """``N=CLASS``: label cluster N's tracks that nobody has decided yet (source: cluster)."""
    from .core.clustering import LabelState

    labels = LabelState.of(clustering, project.track_labels(), classes)
    for text in assignments:
        number, _, class_name = text.partition("=")
        if not number.strip().isdigit() or not 1 <= int(number) <= len(clusters) or class_name not in classes:
            print(f"audioid: --assign {text!r}: give N=CLASS with N from 1 to {len(clusters)} and CLASS one of "
                  f"{', '.join(classes)}", file=sys.stderr)
            return EXIT_USAGE
        rows = clusters[int(number) - 1].rows
        open_rows = rows[~labels.settled[rows]]
        project.set_labels(clustering.track_ids[open_rows].tolist(), class_name, "cluster")
        print(f"Cluster {int(number)}: labelled {len(open_rows):,} of its {len(rows):,} tracks {class_name}")
    return EXIT_OK


def _print_clusters(clustering: Clustering, clusters: list[Cluster], labels: LabelState) -> None:
    from .core.clustering import cluster_stats

    prepared = clustering.features
    reduced = (f"; PCA: {prepared.components} components, {prepared.explained[prepared.components - 1]:.0%} "
               "of the variance" if prepared.components else "")
    print(f"{clustering.method.capitalize()} linkage over {len(clustering):,} tracks "
          f"({prepared.data.shape[1]} dimensions{reduced}): {len(clusters)} clusters")
    if prepared.excluded:
        print(f"  left out {len(prepared.excluded):,} tracks whose features hold NaN or infinity, e.g. "
              f"{prepared.excluded[0]}")
    names = labels.classes
    widths = [max(len(n), 5) for n in names]
    print(f"{'#':>4} {'size':>7} {'labelled':>8}  " + "  ".join(f"{n:>{w}}" for n, w in zip(names, widths))
          + f"  {'majority':<10} purity (95% interval)")
    for c in clusters:
        stats = cluster_stats(c.rows, labels)
        counts = "  ".join(f"{stats.heard.get(n, 0):>{w}}" for n, w in zip(names, widths))
        print(f"{c.number:>4} {stats.size:>7,} {stats.labelled:>8,}  {counts}  {stats.majority or '—':<10} "
              f"{stats.purity_text()}")


def cmd_train(args: argparse.Namespace, project: Project) -> int:
    from .core.learning import YOUNG_NOTE, TrainingError, TrainingOptions, evaluate_model, learning_curve, retrain

    options = TrainingOptions.of(project)
    changes = {}
    if args.fold is not None:
        changes["grouping"] = dict(args.fold)
    if args.cluster_weight is not None:
        changes["cluster_weight"] = args.cluster_weight
    if args.folds is not None:
        changes["folds"] = args.folds
    if args.model is not None:
        changes["model"] = args.model
    if changes:
        options = TrainingOptions(**{**options.__dict__, **changes})
        options.save(project)
    token = CancelToken()
    try:
        with _CtrlC(token):
            bar = ProgressBar(unit="steps")
            result = retrain(project, options, progress=bar, cancel=token)
            bar.close()
            folded = ", ".join(f"{a} as {b}" for a, b in options.grouping.items())
            print(f"Trained on {result.trained.n_labels:,} labels ("
                  + ", ".join(f"{n:,} {c}" for c, n in result.trained.counts.items())
                  + (f"; {folded}" if folded else "") + f") in {result.seconds:.1f} s; "
                  f"predicted {len(result.predictions.track_ids):,} tracks")
            for note in result.trained.notes:
                if args.no_evaluate or not note.startswith(YOUNG_NOTE):  # the report says that one
                    print(f"  note: {note}")
            if args.no_evaluate:
                return EXIT_OK
            bar = ProgressBar(unit="folds")
            evaluation = evaluate_model(project, result.model_id, options, progress=bar, cancel=token)
            bar.close()
    except TrainingError as exc:
        print(f"audioid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Cancelled:
        print("Stopped.", file=sys.stderr)
        return EXIT_STOPPED
    print(evaluation.text())
    history = learning_curve(project)
    if len(history) > 1:
        several = len({p.model for p in history}) > 1
        print("\nlearning curve: " + "  ".join(f"{p.n_labels:,} labels {p.accuracy:.0%}"
                                                + (f" ({p.model or 'journal'})" if several else "")
                                                for p in history[-8:]))
    return EXIT_OK


def _stored_predictions(project: Project) -> Optional[Predictions]:
    """Predictions for every track with features: stored ones, completed with the stored model
    for tracks added since it was trained (and stored, unless the project is open read-only)."""
    from .core.features import VERSION
    from .core.selection import Predictions

    stored = project.predictions()
    model = project.latest_model()
    if model is not None and model.blob and (
            stored is None or len(stored.track_ids) < project.current_feature_count(VERSION)):
        from .core.learning import load_model, predict

        fresh = predict(load_model(model.blob, model.classes, model.grouping), project.feature_vectors(VERSION))
        if project.read_only:
            return Predictions(fresh.track_ids, fresh.classes, fresh.probabilities, model.id)
        project.save_predictions(model.id, fresh.track_ids, fresh.classes, fresh.probabilities)
        stored = project.predictions()
    if stored is None:
        return None
    return Predictions(stored.track_ids, stored.classes, stored.probabilities, stored.model_id)


def _predictions_or_say_why(project: Project) -> Optional[Predictions]:
    """The predictions, or None after telling the user what is missing."""
    from .core.learning import ModelFileError

    try:
        predictions = _stored_predictions(project)
    except ModelFileError as exc:
        print(f"audioid: {exc}", file=sys.stderr)
        return None
    if predictions is None:
        print("audioid: no model yet; label some tracks and run `audioid train` first.", file=sys.stderr)
    return predictions


def cmd_predict(args: argparse.Namespace, project: Project) -> int:
    import numpy as np

    from .core.playlists import PlaylistEntry, write_m3u

    predictions = _predictions_or_say_why(project)
    if predictions is None:
        return EXIT_USAGE
    paths = project.paths_by_id()
    predicted, confidence = predictions.predicted, predictions.confidence
    sure = confidence >= args.min_confidence
    threshold = args.min_confidence > 0
    print(f"{plural(len(predictions.track_ids), 'track')} predicted by model {predictions.model_id}"
          + (f"; {int(sure.sum()):,} with confidence >= {args.min_confidence:.0%}" if threshold else ""))
    for name in predictions.classes:
        sure_text = f"   sure: {int(np.sum((predicted == name) & sure)):,}" if threshold else ""
        print(f"  {name:<12}{int(np.sum(predicted == name)):>8,}{sure_text}")
    if args.export_csv:
        with open(args.export_csv, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["path", "predicted", "confidence", *predictions.classes])
            for track_id, name, conf, row in zip(predictions.track_ids.tolist(), predicted, confidence,
                                                 predictions.probabilities):
                writer.writerow([paths[track_id], name, f"{conf:.4f}", *(f"{p:.4f}" for p in row)])
        print(f"Wrote {args.export_csv}")
    if args.export_m3u:
        folder = Path(args.export_m3u)
        folder.mkdir(parents=True, exist_ok=True)
        for name in predictions.classes:
            chosen = predictions.track_ids[(predicted == name) & sure].tolist()
            target = folder / f"predicted_{name}.m3u8"
            write_m3u(target, (PlaylistEntry(paths[t]) for t in chosen))
            print(f"Wrote {target} ({len(chosen):,} tracks)")
    return EXIT_OK


QUEUE_GUESS = "model's guess / runner-up"  # the queue's middle column ("explore": no guess, unlike the rest)


def cmd_queue(args: argparse.Namespace, project: Project) -> int:
    from .core.features import VERSION
    from .core.learning import ENOUGH_TO_TRAIN, ModelFileError, TrainingOptions
    from .core.selection import propose_for

    unreadable = False
    try:
        predictions = _stored_predictions(project)
    except ModelFileError as exc:  # the queue can still explore without the model
        print(f"audioid: {exc}", file=sys.stderr)
        predictions, unreadable = None, True
    if not project.status(VERSION).extracted:
        print("audioid: no track has features yet; run `audioid scan` first.", file=sys.stderr)
        return EXIT_USAGE
    proposal = propose_for(project, predictions, args.n, args.strategy, args.diverse,
                           TrainingOptions.of(project).grouping)
    exploring = sum(not e.predicted for e in proposal.entries)
    if predictions is None:
        print(("Without the saved model" if unreadable else "No model yet")
              + ": these tracks stand for the collection's different sounds, each far from what "
              f"was heard. Label them; `audioid train` works once {ENOUGH_TO_TRAIN}.")
    elif proposal.exploring:
        which = ("these tracks are" if exploring == len(proposal.entries) else "the first track is"
                 if exploring == 1 else f"the first {exploring:,} tracks are")
        rest = "" if exploring == len(proposal.entries) else ", the rest are the tracks the model is least sure about"
        print(f"Nobody has labelled {', '.join(proposal.unheard)} yet: {which} unlike anything heard so far{rest}. "
              "(No such tracks in your collection? Fold the class into another with `audioid train --fold`, "
              "or remove it with Edit ▸ Classes.)")
    if not proposal.entries:
        print("Nothing left to ask: every track with features is labelled by ear.")
        return EXIT_OK
    paths = project.paths_by_id()
    said = [f"{e.predicted} {e.confidence:.0%} / {e.runner_up} {e.runner_up_probability:.0%}" if e.predicted
            else "explore" for e in proposal.entries]
    width = max(len(QUEUE_GUESS), *map(len, said))
    print(f"{'#':>3}  {QUEUE_GUESS:<{width}}  track")
    for i, (entry, guess) in enumerate(zip(proposal.entries, said), 1):
        print(f"{i:>3}  {guess:<{width}}  {paths[entry.track_id]}")
    return EXIT_OK


def cmd_label(args: argparse.Namespace, project: Project) -> int:
    from .core.labels_io import LabelMatcher

    matcher = LabelMatcher(project, Path.cwd())
    class_name = matcher.class_name(args.label)
    if class_name is None:
        print(f"audioid: no class {args.label!r}; the project has: {', '.join(c.name for c in project.classes())}",
              file=sys.stderr)
        return EXIT_USAGE
    tracks = matcher.tracks(args.track)
    if len(tracks) != 1:
        why = "no track of the project" if not tracks else f"{len(tracks)} tracks; give the path"
        print(f"audioid: {args.track!r} names {why}", file=sys.stderr)
        return EXIT_USAGE
    project.set_label(tracks[0], class_name, args.source)
    print(f"{args.track}: {class_name}")
    return EXIT_OK


def cmd_review(args: argparse.Namespace, project: Project) -> int:
    from .core.review import ReviewError, draw, open_review, pending, refined_playlists
    from .core.review import report as review_report

    try:
        name = _review_playlist(project, args.playlist)
        record = open_review(project, name, args.intended, args.seed)
        if args.sample or args.fraction:
            drawn = draw(project, record, args.sample, args.fraction)
            if (args.sample or 0) > len(drawn):
                print("note: every track of the playlist is in the sample already" if not drawn else
                      f"note: only {plural(len(drawn), 'more track')} could be drawn; the playlist has no others left")
        if args.report or args.export_report:
            result = review_report(project, record)
            print(result.text())
            if args.export_report:
                path = Path(args.export_report)
                path.write_text(result.markdown() if path.suffix.lower() == ".md" else result.csv(), encoding="utf-8")
                print(f"Wrote {path}")
        else:
            waiting = pending(project, record)
            paths = project.paths_by_id()
            print(f"{name}: {len(waiting):,} sampled tracks to listen to (label them with "
                  "`audioid label PATH CLASS --source review`, or in the window)")
            for track_id in waiting:
                print(f"  {paths[track_id]}")
        if args.refine:
            for class_name, path in refined_playlists(project, name, Path(args.refine), args.min_confidence).items():
                print(f"Wrote {path} ({class_name})")
    except ReviewError as exc:
        print(f"audioid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _review_playlist(project: Project, written: str) -> str:
    """A playlist of the project by name, or a playlist file (imported and scanned if new)."""
    from .core.review import ReviewError

    if written in project.playlist_names():
        return written
    path = Path(written)
    if not path.is_file():
        raise ReviewError(f"No playlist named {written!r} in this project and no such file.")
    known = project.playlist_by_source(path)
    if known is None or not project.playlist_track_ids(known):  # new, or its tracks were missing
        _scan(project, [path], argparse.Namespace(segment=None, retry_failed=False, workers=None))
        known = project.playlist_by_source(path)
    if known is None:
        raise ReviewError(f"{path.name} could not be read as a playlist: see `audioid errors`.")
    return known


def cmd_tag(args: argparse.Namespace, project: Project) -> int:
    from .core.tags import apply as tag_apply
    from .core.tags import plan as tag_plan
    from .core.tags import undo as tag_undo

    if args.history and (args.undo is not None or args.dry_run):
        print("audioid: --history only lists the batches; run --undo or --dry-run on its own", file=sys.stderr)
        return EXIT_USAGE
    if args.history:
        for batch in project.tag_batches():
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(batch.created_at))
            state = "  (undone)" if batch.undone_at else (f"  ({plural(batch.changed, 'file')} still changed)"
                                                          if batch.changed else "")
            print(f"{batch.id:>4}  {when}  {batch.mode:<8} {plural(batch.written, 'file')} written{state}")
        return EXIT_OK
    token = CancelToken()
    if args.undo is not None:
        if args.dry_run:
            print("audioid: --undo cannot be a dry run; `audioid tag --history` shows what each batch "
                  "still changes", file=sys.stderr)
            return EXIT_USAGE
        asked = {batch.id: batch for batch in project.tag_batches()}.get(args.undo) if args.undo else None
        if args.undo and asked is None:
            print(f"audioid: no tag batch {args.undo} (`audioid tag --history` lists them)", file=sys.stderr)
            return EXIT_USAGE
        if asked is not None and not asked.changed:
            print(f"Batch {asked.id} changes no file any more: nothing to undo.")
            return EXIT_OK
        with _CtrlC(token):
            bar = ProgressBar()
            result = tag_undo(project, args.undo or None, progress=bar, cancel=token, only=args.file or None)
            bar.close()
        if result.batch_id is None:
            print("Nothing to undo.")
            return EXIT_OK
        print(f"Batch {result.batch_id}: {plural(result.written, 'file')} restored, "
              f"{result.unchanged:,} already as before, {len(result.errors):,} failed")
        for e in result.errors:
            print(f"  {e.path}: {e.message}")
        if result.remaining:
            print(f"Batch {result.batch_id} still changes {plural(result.remaining, 'file')}: "
                  f"`audioid tag --undo {result.batch_id}` tries them again.")
        for batch in project.tag_batches():
            if batch.changed and batch.id != result.batch_id:
                print(f"Batch {batch.id} also still changes {plural(batch.changed, 'file')}: "
                      f"`audioid tag --undo {batch.id}` restores them.")
        return EXIT_FAILED if result.errors else EXIT_OK
    scope = None
    if args.playlist:
        scope = project.playlist_track_ids(args.playlist)
        if scope is None:
            print(f"audioid: no playlist named {args.playlist!r}", file=sys.stderr)
            return EXIT_USAGE
    the_plan = tag_plan(project, scope, args.mode, args.min_confidence, args.private, args.only_class)
    for item in the_plan.items:
        why = item.source if item.confidence is None else f"model {item.confidence:.0%}"
        print(f"{'; '.join(item.old) or '(none)'} -> {'; '.join(item.new)}  [{why}]  {item.path}")
    print(f"{len(the_plan.items):,} files to write, {the_plan.unchanged:,} already right, "
          f"{the_plan.no_decision:,} neither labelled nor predicted at >= {args.min_confidence:.0%}")
    if args.dry_run or not the_plan.items:
        return EXIT_OK
    with _CtrlC(token):
        bar = ProgressBar()
        result = tag_apply(project, the_plan, progress=bar, cancel=token, keep_mtime=args.keep_mtime)
        bar.close()
    print(f"Batch {result.batch_id}: wrote {plural(result.written, 'file')}, {result.unchanged:,} already right, "
          f"{len(result.errors):,} failed (undo with `audioid tag --undo {result.batch_id}`)")
    for e in result.errors:
        print(f"  {e.path}: {e.message}")
    return EXIT_STOPPED if result.cancelled else (EXIT_FAILED if result.errors else EXIT_OK)


def _fold(text: str) -> tuple[str, str]:
    source, _, target = text.partition("=")
    if not source.strip() or not target.strip():
        raise argparse.ArgumentTypeError("give CLASS=INTO, e.g. Both=Music")
    return source.strip(), target.strip()


# -- parsing --------------------------------------------------------------------------------------


def _segment(text: str) -> SegmentSpec:
    from .core.audio import SegmentSpec

    try:
        return SegmentSpec.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def _address(text: str) -> str:
    from .core.distributed import parse_address

    return _usage_error(parse_address, text)


def _path_map(text: str) -> tuple[str, str]:
    from .core.distributed import parse_path_map

    return _usage_error(parse_path_map, text)


def _usage_error(parse: Callable[[str], object], text: str):
    """``parse(text)``, its ValueError worded as argparse words a bad option."""
    try:
        return parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Choices(SequenceABC):
    """Choices defined in a module that imports the numeric stack (``_Choices("clustering",
    "METHODS")``), imported only when argparse checks or lists them: when the option is given,
    or for that command's ``--help``.  Starting any other command then does not pay for it.
    An option with such choices needs a ``metavar``: without one, argparse lists the choices
    while the parser is built."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    @cached_property
    def _values(self) -> tuple[str, ...]:
        return tuple(getattr(importlib.import_module(f".core.{self.module}", __package__), self.name))

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return self._values[index]

    def __len__(self) -> int:
        return len(self._values)


PROJECT_HELP = "the project file (default: $AUDIOID_PROJECT, else ./audioid.sqlite)"


def build_parser() -> argparse.ArgumentParser:
    # --project goes before or after the command; given twice, the one after the command wins.
    # Two distinct options: argparse shares one option object among the parsers it is copied
    # into, and a default set on the main parser would then overwrite the value given before.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--project", type=Path, default=argparse.SUPPRESS, help=PROJECT_HELP)
    parser = argparse.ArgumentParser(
        prog="audioid", description="Label thousands of short audio clips: batch commands.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--project", type=Path, default=None, help=PROJECT_HELP)
    parser.add_argument("--version", action="version", version=f"audioid {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    extract_options = argparse.ArgumentParser(add_help=False)
    extract_options.add_argument("--segment", type=_segment, help="which part to analyse: last:10 (default; the "
                                 "last 10 s of sound, trailing silence below -60 dBFS skipped), first:N, middle:N, "
                                 "at:OFFSET:N, whole; remembered by the project")
    extract_options.add_argument("--workers", type=_positive, default=None,
                                 help="processes for extraction (default: one per core)")
    extract_options.add_argument("--retry-failed", action="store_true",
                                 help="try again the files that failed before, even if unchanged")

    p = sub.add_parser("scan", parents=[common, extract_options], help="import folders and playlists, extract features")
    p.add_argument("paths", nargs="+", help="folders (searched recursively), m3u/m3u8/pls playlists or audio files")
    p.add_argument("--dask", metavar="tcp://HOST:8786", type=_address,
                   help="extract on this Dask scheduler's workers, which read the audio at the same paths "
                        "(needs the cluster extra: pip install 'audioid-gui[cluster]')")
    p.add_argument("--path-map", type=_path_map, action="append", metavar="HERE=THERE",
                   help="with --dask: the workers read files under HERE at THERE (repeatable); "
                        "the project keeps the paths as they are here")
    p.set_defaults(run=cmd_scan)
    p = sub.add_parser("demo", parents=[common, extract_options], help="build a project from the bundled demo clips")
    p.set_defaults(run=cmd_demo)
    sub.add_parser("status", parents=[common], help="tracks, extracted, stale, failed, labelled").set_defaults(
        run=cmd_status
    )
    sub.add_parser("errors", parents=[common], help="one line per file that failed: path, stage, reason").set_defaults(
        run=cmd_errors
    )
    p = sub.add_parser("features", parents=[common], help="show or export the feature table")
    p.add_argument("--export", metavar="FILE.csv", help="write path + named columns as CSV ('-' for stdout)")
    p.set_defaults(run=cmd_features)
    p = sub.add_parser("export-clips", parents=[common], help="cut the analysed segment of each track to a folder")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--format", choices=_Choices("clips", "CLIP_FORMATS"), default="mp3", metavar="FORMAT",
                   help="%(choices)s (default: %(default)s)")
    p.add_argument("--segment", type=_segment, help="default: the project's segment")
    p.add_argument("--playlist", help="only the tracks of this playlist")
    p.set_defaults(run=cmd_export_clips)
    p = sub.add_parser("labels", parents=[common], help="export or import labels (CSV path,label or JSON)")
    p.add_argument("action", choices=["export", "import"])
    p.add_argument("file", help='CSV with path,label (export: - writes to standard output); or JSON {"file name": "Music"} (import)')
    p.add_argument("--source", choices=["import", "human"], default="import",
                   help="what imported labels count as (default: import)")
    p.set_defaults(run=cmd_labels)
    p = sub.add_parser("cluster", parents=[common], help="hierarchical clustering: cluster table, playlists, labels")
    p.add_argument("--method", choices=_Choices("clustering", "METHODS"), default="ward", metavar="METHOD",
                   help="linkage: %(choices)s (default: %(default)s)")
    cut = p.add_mutually_exclusive_group()
    cut.add_argument("--k", type=_positive, default=3, help="number of clusters (default: 3)")
    cut.add_argument("--height", type=float, help="cut the tree at this merge height instead")
    p.add_argument("--pca", type=float, help="keep principal components: a variance fraction (0.8) or a count (20)")
    p.add_argument("--export-m3u", metavar="DIR", help="write one playlist per cluster to DIR")
    p.add_argument("--by-class", action="store_true", help="with --export-m3u: one playlist per majority class")
    p.add_argument("--assign", action="append", metavar="N=CLASS",
                   help="label the tracks of cluster N that nobody labelled by ear as CLASS (repeatable). They count "
                        "as labels from clusters: `train` uses them only with --cluster-weight, and a label by "
                        "ear (`audioid label`, the window) replaces them")
    p.set_defaults(run=cmd_cluster)

    p = sub.add_parser("train", parents=[common], help="train the model on the labels; print its report")
    p.add_argument("--fold", type=_fold, action="append", metavar="CLASS=INTO",
                   help="count CLASS as INTO (e.g. Both=Music: the journal's Music vs Dialogue); remembered")
    p.add_argument("--no-fold", dest="fold", action="store_const", const=[], help="forget the folds")
    p.add_argument("--cluster-weight", type=float,
                   help="use labels from clusters with this weight (0: not at all; the default); remembered")
    p.add_argument("--folds", type=_positive, help="cross-validation folds (default 5); remembered")
    p.add_argument("--model", choices=_Choices("learning", "MODELS"), metavar="MODEL",
                   help="auto (logistic regression, joined by the journal's trees from 100 labels; default), "
                        "linear, or journal (random forest + gradient boosting 1:2); remembered")
    p.add_argument("--no-evaluate", action="store_true", help="skip the cross-validated report")
    p.set_defaults(run=cmd_train)
    p = sub.add_parser("predict", parents=[common], help="the model's class for every track; export lists")
    p.add_argument("--export-csv", metavar="FILE", help="path, predicted class, confidence, probability per class")
    p.add_argument("--export-m3u", metavar="DIR", help="one playlist per predicted class (predicted_CLASS.m3u8)")
    p.add_argument("--min-confidence", type=float, default=0.0, help="only tracks predicted at least this sure")
    p.set_defaults(run=cmd_predict)
    p = sub.add_parser("queue", parents=[common],
                       help="what to label next: with no model yet, representative tracks of different sounds; "
                            "then the tracks the model is least sure about")
    p.add_argument("--n", type=_positive, default=20)
    p.add_argument("--strategy", choices=_Choices("selection", "STRATEGIES"), default="margin", metavar="STRATEGY",
                   help="how unsure the model is: %(choices)s (default: %(default)s)")
    p.add_argument("--diverse", action="store_true", help="spread the batch over different-sounding tracks")
    p.set_defaults(run=cmd_queue)
    p = sub.add_parser("label", parents=[common], help="label one track")
    p.add_argument("track", help="its path, or its file name if that is unique")
    p.add_argument("label", help="a class name or its key")
    p.add_argument("--source", choices=["human", "review"], default="human")
    p.set_defaults(run=cmd_label)
    p = sub.add_parser("review", parents=[common], help="review a playlist by ear: sample, report, refined lists")
    p.add_argument("playlist", help="a playlist of the project, or an m3u/m3u8/pls file (imported if new)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--sample", type=_positive, help="draw this many more tracks to listen to")
    size.add_argument("--fraction", type=float, help="draw this share of the playlist")
    p.add_argument("--seed", type=int, help="the sample's random seed; remembered by the review")
    p.add_argument("--intended", help="the class the playlist should hold (for the wrong-track estimate); "
                                      "remembered by the review")
    p.add_argument("--report", action="store_true", help="print the ratios of the answers so far")
    p.add_argument("--export-report", metavar="FILE", help="write the report as CSV, or Markdown for .md")
    p.add_argument("--refine", metavar="DIR", help="write refined_<class>.m3u: labels by ear, then sure predictions")
    p.add_argument("--min-confidence", type=float, default=0.9, help="for --refine (default 0.9)")
    p.set_defaults(run=cmd_review)
    p = sub.add_parser("tag", parents=[common], help="write each track's class into its file as genre (with undo)")
    p.add_argument("--mode", choices=_Choices("tags", "MODES"), default="replace", metavar="MODE",
                   help="replace the genre, append to it, or fill only empty genres (default: replace)")
    p.add_argument("--min-confidence", type=float, default=0.9,
                   help="unlabelled tracks get the model's class when it is at least this sure (default 0.9)")
    p.add_argument("--playlist", help="only the tracks of this playlist")
    p.add_argument("--class", dest="only_class", action="append", metavar="CLASS",
                   help="only tracks decided as this class (repeatable)")
    p.add_argument("--private", action="store_true", help="also write the class and confidence to the field AUDIOID_CLASS")
    p.add_argument("--keep-mtime", action="store_true", help="keep the files' modification times")
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    p.add_argument("--undo", nargs="?", type=int, const=0, metavar="BATCH", help="restore a batch (default: the last)")
    p.add_argument("--file", action="append", metavar="PATH", help="with --undo: only this file (repeatable)")
    p.add_argument("--history", action="store_true", help="list the batches written so far")
    p.set_defaults(run=cmd_tag)
    return parser


READING_COMMANDS = {"status", "errors", "features", "queue", "export-clips"}


def _only_reads(args: argparse.Namespace) -> bool:
    """Whether the command leaves the project as it is: such commands open it read-only and take
    no writer lock, so they run while the window (or a scan) has the project open."""
    if args.command == "tag":
        return args.dry_run or args.history
    if args.command == "cluster":
        return not args.assign
    if args.command == "labels":
        return args.action == "export"
    return args.command in READING_COMMANDS


def main(argv: Optional[Sequence[str]] = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not UTF-8 is written as the bytes it has on disk (as `ls` does), so
        # that printing it never fails and a script can use what it reads.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .core.project import Project, default_project_path
    from .core.store import ProjectFileError, ProjectLockedError, ProjectReadOnlyError

    path = args.project or default_project_path()
    creates = args.command in ("scan", "demo") or (args.command == "review" and Path(args.playlist).is_file())
    if not creates and not path.exists():
        print(f"audioid: no project at {path}. Create one with `audioid scan FOLDER --project {path}`.", file=sys.stderr)
        return EXIT_USAGE
    read_only = _only_reads(args)
    try:
        project = Project(path, create=creates, writer=not read_only, read_only=read_only)
    except ProjectLockedError as exc:
        print(f"audioid: {exc} Commands that only read work meanwhile: {READ_ONLY_TEXT}.", file=sys.stderr)
        return EXIT_USAGE
    except ProjectReadOnlyError as exc:
        print(f"audioid: {exc} Commands that only read: {READ_ONLY_TEXT}.", file=sys.stderr)
        return EXIT_USAGE
    except ProjectFileError as exc:
        print(f"audioid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with project:
        if project.damage is not None:
            print(f"audioid: warning: {project.damage}", file=sys.stderr)
        return _run_command(args, project)


def _run_command(args: argparse.Namespace, project: Project) -> int:
    """Run the command; a failure of the disk or of the project file (no room, a damaged page)
    ends it with a sentence and EXIT_FAILED, never a traceback.  Any other exception is a bug and
    shows as one."""
    import sqlite3

    from .core.store import ProjectFileError, explain

    try:
        return args.run(args, project)
    except BrokenPipeError:  # `audioid errors | head`
        return EXIT_OK
    except (ProjectFileError, OSError, sqlite3.Error) as exc:
        problem = exc if isinstance(exc, ProjectFileError) else explain(exc, project.path)
        if problem is None:
            raise
        print(f"audioid: {problem}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
