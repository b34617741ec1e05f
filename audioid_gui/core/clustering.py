"""Hierarchical clustering of the feature table, cuts, cluster statistics, and guided labeling.

Scale.  SciPy's linkage needs the condensed distance matrix: 3.6 GB for 30,000 tracks.  An
O(n·d)-memory Ward (fastcluster's ``linkage_vector``) avoids the memory but took 32 s for 30,000
tracks here.  So up to ``EXACT_LIMIT`` tracks we run SciPy's exact linkage on the tracks, and above
it we first group the tracks into ``MICRO_CLUSTERS`` k-means micro-clusters (about 1 s for 30,000)
and run an exact *weighted* linkage over them (``weighted_linkage``: Lance–Williams updates with the
micro-clusters' sizes, so Ward, centroid and average linkage treat a micro-cluster of 40 tracks as 40
tracks).  A micro-cluster is expanded on demand — clustered exactly over its own tracks — when the
guided labeling needs to look inside it.  The top of the tree, where labeling decisions are made,
is what the dendrogram shows and what cuts use.

Clusters are named by ``Ref``: a path of node ids, the first in the top tree, each further one in
the tree of the micro-cluster named before it.  Track sets are given as *rows*: indices into
``Clustering.track_ids``.

Guided labeling follows Hierarchical Cluster Guided Labeling (Wigness, Draper & Beveridge, CVPR
2015): listen to a random sample of the largest cluster not yet settled; if the sample agrees, offer
to label the whole cluster; if it disagrees, descend into its children, whose samples are already
partly heard.  The proposal is derived from the labels in the project each time, so the loop
survives undo, a restart, and labels given elsewhere; its order is chosen so that labelling the
sample in hand never moves it to another cluster, and a starting cluster is settled, split as
needed, before the next one begins.
"""
from __future__ import annotations

import math
import warnings
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping, Optional, Sequence

import numpy as np
from scipy.cluster import hierarchy as sch

from .playlists import PlaylistEntry, write_m3u
from .project import HEARD_SOURCES, FeatureTable, TrackLabel, finite_rows, rows_of
from .tasks import Cancelled, CancelToken, Progress, ProgressCallback, report

METHODS = ("ward", "average", "complete", "single", "median", "centroid")
EXACT_LIMIT = 3000  # up to this many tracks the linkage runs on the tracks themselves
# Above it, on this many k-means micro-clusters, whatever the number of tracks: the top tree is
# what the dendrogram draws and cuts use, and a micro-cluster (500 tracks at a million) is
# clustered exactly when guided labeling looks inside it.
MICRO_CLUSTERS = 2000
MICRO_SAMPLE = 50_000  # the micro-clusters' centres are learnt on at most this many tracks
MICRO_PREDICT_BLOCK = 65_536  # tracks joined to their nearest centre at a time
SETTLED_SOURCES = HEARD_SOURCES | {"cluster"}  # tracks the guided loop has no more work for
# Heights of Ward, centroid and median linkage are computed on squared distances.
_SQUARED = {"ward", "centroid", "median"}

Ref = tuple[int, ...]


class ClusteringError(ValueError):
    """The features cannot be clustered; the message says why and what to do."""


class TooFewTracks(ClusteringError):
    """Fewer than two tracks have usable features: a project still being filled, not a fault."""

    def __init__(self, analysed: int, broken: int) -> None:
        extra = f" ({broken:,} more have broken values)" if broken else ""
        super().__init__(
            f"Clustering needs at least two tracks with features; this project has {analysed}{extra}. "
            "Import a folder and let the feature extraction finish first."
        )
        self.analysed, self.broken = analysed, broken


# -- features -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedFeatures:
    """The vectors that go into the clustering: finite rows only, standardised, maybe projected."""

    track_ids: np.ndarray  # (n,) project track ids, row order
    paths: list[str]
    data: np.ndarray  # (n, d) float64
    excluded: list[str]  # paths whose vectors hold NaN or infinity
    explained: np.ndarray  # cumulative explained variance of 1, 2, … principal components
    components: Optional[int]  # principal components kept, None without PCA


def prepare(table: FeatureTable, pca: Optional[float] = None) -> PreparedFeatures:
    """Standardise each feature (mean 0, variance 1) and optionally keep the principal components
    that explain a fraction ``pca`` (0 < pca < 1) of the variance, or ``pca`` components (≥ 1).

    Standardising matters: MFCC means are in the hundreds and ZCR below one; without it the
    distance would be the MFCCs alone.
    """
    matrix = np.asarray(table.matrix)
    finite = finite_rows(matrix)
    excluded = [p for p, ok in zip(table.paths, finite) if not ok]
    if int(finite.sum()) < 2:
        raise TooFewTracks(int(finite.sum()), len(excluded))
    # One float64 copy, standardised in place: a million tracks of 111 features take 0.9 GB each.
    data = np.array(matrix[finite], dtype=np.float64)
    std = data.std(axis=0)
    data -= data.mean(axis=0)
    data /= np.where(std > 0, std, 1.0)
    if not np.any(std > 0):
        raise ClusteringError(
            f"All {len(data):,} feature vectors are identical, so there is nothing to tell apart. "
            "Are the files silent, or copies of one file?"
        )
    # The principal axes from the d×d scatter matrix rather than an SVD of the data, whose n×d
    # left factor nobody uses (another 0.9 GB at a million tracks).
    variance, axes = np.linalg.eigh(data.T @ data)
    variance, vt = np.clip(variance[::-1], 0.0, None), axes[:, ::-1].T
    explained = np.cumsum(variance) / variance.sum()
    components = None
    if pca is not None:
        if pca <= 0:
            raise ClusteringError("PCA needs a variance fraction between 0 and 1, or a number of components.")
        components = int(np.searchsorted(explained, pca - 1e-9) + 1) if pca < 1 else min(int(pca), len(explained))
        data = data @ vt[:components].T
    return PreparedFeatures(
        track_ids=np.asarray(table.track_ids)[finite],
        paths=[p for p, ok in zip(table.paths, finite) if ok],
        data=np.ascontiguousarray(data),
        excluded=excluded,
        explained=explained,
        components=components,
    )


# -- linkage --------------------------------------------------------------------------------------


def weighted_linkage(points: np.ndarray, weights: np.ndarray, method: str = "ward",
                     cancel: Optional[CancelToken] = None, progress: Optional[ProgressCallback] = None) -> np.ndarray:
    """Exact agglomerative clustering of weighted points, as a SciPy linkage matrix.

    A point of weight w stands for w tracks at the same place: the Lance–Williams update uses the
    merged sizes, so Ward's merge cost is that of the tracks themselves.  With unit weights the
    result equals ``scipy.cluster.hierarchy.linkage(points, method)``.  Memory: one m×m matrix.

    Each row keeps its nearest neighbour; after a merge only the rows that pointed at the merged
    pair, and that the union moved away from, are searched again: a merge costs about O(m)
    instead of O(m²).
    """
    if method not in METHODS:
        raise ClusteringError(f"Unknown linkage {method!r}; choose one of {', '.join(METHODS)}.")
    progress = report(progress)
    points = np.asarray(points, dtype=np.float64)
    size = np.asarray(weights, dtype=np.float64).copy()
    m = len(points)
    norms = np.einsum("ij,ij->i", points, points)
    dist = np.maximum(norms[:, None] + norms[None, :] - 2.0 * points @ points.T, 0.0)
    if method == "ward":
        dist *= 2.0 * size[:, None] * size[None, :] / (size[:, None] + size[None, :])
    elif method not in _SQUARED:
        np.sqrt(dist, out=dist)
    np.fill_diagonal(dist, np.inf)
    active = np.ones(m, dtype=bool)
    node = np.arange(m)
    points_in = np.ones(m)  # the count column of a SciPy linkage counts points, not weight
    nearest = np.argmin(dist, axis=1) if m > 1 else np.zeros(m, dtype=np.intp)
    nearest_d = dist[np.arange(m), nearest]
    merges = np.empty((max(m - 1, 0), 4))
    for step in range(m - 1):
        i = int(np.argmin(nearest_d))
        j = int(nearest[i])
        d_ij = float(dist[i, j])
        n_i, n_j = size[i], size[j]
        with np.errstate(invalid="ignore", over="ignore"):
            new = _lance_williams(method, dist[i], dist[j], d_ij, n_i, n_j, size)
        new[~active] = np.inf
        new[i] = new[j] = np.inf
        merges[step] = (min(node[i], node[j]), max(node[i], node[j]), d_ij, points_in[i] + points_in[j])
        points_in[i] += points_in[j]
        dist[i, :] = new
        dist[:, i] = new
        dist[j, :] = np.inf
        dist[:, j] = np.inf
        active[j] = False
        nearest_d[j] = np.inf
        size[i] = n_i + n_j
        node[i] = m + step
        # Rows whose nearest was i or j: if the union is at least as close, it is their nearest;
        # otherwise (and for the union itself) search the row again.
        pointed = active & ((nearest == i) | (nearest == j))
        pointed[i] = False
        still = pointed & (new <= nearest_d)
        nearest[still] = i
        nearest_d[still] = new[still]
        stale = np.flatnonzero(pointed & ~still)
        stale = np.append(stale, i)
        nearest[stale] = np.argmin(dist[stale], axis=1)
        nearest_d[stale] = dist[stale, nearest[stale]]
        closer = new < nearest_d
        nearest[closer] = i
        nearest_d[closer] = new[closer]
        if step % 256 == 0:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            progress(Progress(step, m - 1, "linking clusters"))
    if method in _SQUARED:
        merges[:, 2] = np.sqrt(np.maximum(merges[:, 2], 0.0))
    return merges


def _lance_williams(method: str, d_i: np.ndarray, d_j: np.ndarray, d_ij: float, n_i: float, n_j: float,
                    n_k: np.ndarray) -> np.ndarray:
    """Distance from every cluster k to the union of clusters i and j."""
    if method == "ward":
        return ((n_i + n_k) * d_i + (n_j + n_k) * d_j - n_k * d_ij) / (n_i + n_j + n_k)
    if method == "single":
        return np.minimum(d_i, d_j)
    if method == "complete":
        return np.maximum(d_i, d_j)
    if method == "average":
        return (n_i * d_i + n_j * d_j) / (n_i + n_j)
    if method == "centroid":
        n = n_i + n_j
        return (n_i * d_i + n_j * d_j) / n - n_i * n_j * d_ij / (n * n)
    return 0.5 * d_i + 0.5 * d_j - 0.25 * d_ij  # median


def _balanced_tree(n: int) -> np.ndarray:
    """A zero-height binary tree over n identical points: any split of them is as good."""
    queue = deque((i, 1) for i in range(n))
    rows = []
    while len(queue) > 1:
        (a, size_a), (b, size_b) = queue.popleft(), queue.popleft()
        rows.append((min(a, b), max(a, b), 0.0, size_a + size_b))
        queue.append((n + len(rows) - 1, size_a + size_b))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def sum_up_the_tree(linkage: np.ndarray, leaf_values: np.ndarray) -> np.ndarray:
    """Per node of a linkage (leaves first, then one per merge), the sum of its leaves' values."""
    m = len(linkage) + 1
    total = np.zeros((2 * m - 1, *leaf_values.shape[1:]), dtype=leaf_values.dtype)
    total[:m] = leaf_values
    for step, (a, b) in enumerate(linkage[:, :2].astype(np.int64)):
        total[m + step] = total[a] + total[b]
    return total


def _micro_clusters(data: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means cluster index of each row, numbered 0… without gaps.

    k-means costs n·k·d per iteration: 20 iterations over a million tracks took minutes.  Above
    ``MICRO_SAMPLE`` tracks, the centres are learnt on a random sample of that many (25 tracks per
    centre place them well) and every track then joins its nearest centre in one pass, in
    single precision: the whole clustering of a million tracks took 14 s instead of 276 s."""
    from sklearn.cluster import KMeans  # scikit-learn takes a second to import: only when needed

    kmeans = KMeans(n_clusters=k, init="random", n_init=1, max_iter=20, random_state=seed)
    with warnings.catch_warnings():  # fewer distinct points than k: empty clusters are dropped below
        warnings.simplefilter("ignore")
        if len(data) <= MICRO_SAMPLE:
            labels = kmeans.fit(data).labels_
        else:
            sample = np.random.default_rng(seed).choice(len(data), MICRO_SAMPLE, replace=False)
            kmeans.fit(data[sample].astype(np.float32))
            # A block of tracks at a time in single precision, not one 0.45 GB copy of them all,
            # whose making (its pages touched for the first time) held up the window 0.1-0.3 s.
            labels = np.concatenate([kmeans.predict(data[first:first + MICRO_PREDICT_BLOCK].astype(np.float32))
                                     for first in range(0, len(data), MICRO_PREDICT_BLOCK)])
    return np.unique(labels, return_inverse=True)[1]


class _Tree:
    """A linkage over leaves; a leaf holds one row, or (above EXACT_LIMIT) a micro-cluster of rows."""

    def __init__(self, data: np.ndarray, method: str, seed: int, *, exact_limit: int, micro: int,
                 progress: ProgressCallback, cancel: Optional[CancelToken]) -> None:
        self.data = data
        self.method = method
        self.seed = seed
        self.exact_limit, self.micro = exact_limit, micro
        n = len(data)
        if n > 1 and not np.ptp(data, axis=0).any():
            self.linkage, self.leaf_of = _balanced_tree(n), np.arange(n)
        elif n <= exact_limit:
            self.leaf_of = np.arange(n)
            self.linkage = sch.linkage(data, method=method) if n > 1 else np.empty((0, 4))
        else:
            progress(Progress(0, 0, f"grouping {n:,} tracks into {micro:,} micro-clusters"))
            self.leaf_of = _micro_clusters(data, micro, seed)
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            leaves = int(self.leaf_of.max()) + 1
            sizes = np.bincount(self.leaf_of, minlength=leaves).astype(np.float64)
            centres = np.zeros((leaves, data.shape[1]))
            np.add.at(centres, self.leaf_of, data)
            centres /= sizes[:, None]
            self.linkage = weighted_linkage(centres, sizes, method, cancel, progress)
        self.n_leaves = len(self.linkage) + 1
        self.sizes = sum_up_the_tree(self.linkage, np.bincount(self.leaf_of, minlength=self.n_leaves))
        order = np.argsort(self.leaf_of, kind="stable")
        bounds = np.searchsorted(self.leaf_of[order], np.arange(self.n_leaves + 1))
        self._leaf_rows = [order[bounds[i]:bounds[i + 1]] for i in range(self.n_leaves)]
        self._subtrees: dict[int, tuple[_Tree, np.ndarray]] = {}

    @property
    def root(self) -> int:
        return 2 * self.n_leaves - 2

    def node_rows(self, node: int) -> np.ndarray:
        leaves, stack = [], [node]
        while stack:
            current = stack.pop()
            if current < self.n_leaves:
                leaves.append(self._leaf_rows[current])
            else:
                a, b = self.linkage[current - self.n_leaves, :2]
                stack.extend((int(b), int(a)))
        return np.concatenate(leaves) if len(leaves) > 1 else leaves[0]

    def node_size(self, node: int) -> int:
        return int(self.sizes[node])

    def subtree(self, leaf: int) -> tuple["_Tree", np.ndarray]:
        """The exact tree of one micro-cluster, and its rows in this tree."""
        if leaf not in self._subtrees:
            rows = self._leaf_rows[leaf]
            tree = _Tree(self.data[rows], self.method, self.seed, exact_limit=self.exact_limit, micro=self.micro,
                         progress=report(None), cancel=None)
            self._subtrees[leaf] = (tree, rows)
        return self._subtrees[leaf]


# -- the clustering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """One cluster of a cut, as listed in a table."""

    number: int  # 1… from left to right in the dendrogram
    ref: Ref
    rows: np.ndarray


class Clustering:
    """A hierarchy over the tracks of a project, with the features it was computed from."""

    def __init__(self, features: PreparedFeatures, method: str = "ward", seed: int = 0, *,
                 exact_limit: int = EXACT_LIMIT, micro: int = MICRO_CLUSTERS,
                 progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> None:
        if method not in METHODS:
            raise ClusteringError(f"Unknown linkage {method!r}; choose one of {', '.join(METHODS)}.")
        self.features = features
        self.method = method
        self.tree = _Tree(features.data, method, seed, exact_limit=exact_limit, micro=micro,
                          progress=report(progress), cancel=cancel)
        self.micro = len(features.data) > exact_limit
        first = np.empty(2 * self.tree.n_leaves - 1, dtype=np.int64)  # leftmost dendrogram position
        if self.tree.n_leaves > 1:
            first[sch.leaves_list(self.tree.linkage)] = np.arange(self.tree.n_leaves)
        else:
            first[0] = 0
        for step, (a, b) in enumerate(self.tree.linkage[:, :2].astype(np.int64)):
            first[self.tree.n_leaves + step] = min(first[a], first[b])
        self._first = first
        self._id_order: Optional[np.ndarray] = None

    @property
    def track_ids(self) -> np.ndarray:
        return self.features.track_ids

    def rows_of(self, track_ids: Sequence[int]) -> np.ndarray:
        """The row of each track, −1 for a track not clustered.  The ids' sort is kept: the
        labels are looked up again after every key press."""
        if self._id_order is None:
            self._id_order = np.argsort(self.track_ids, kind="stable")
        return rows_of(self.track_ids, track_ids, self._id_order)

    @property
    def linkage(self) -> np.ndarray:
        """The top tree as a SciPy linkage matrix over its leaves (see ``leaf_sizes``)."""
        return self.tree.linkage

    @property
    def root(self) -> Ref:
        return (self.tree.root,)

    def __len__(self) -> int:
        return len(self.features.data)

    def _resolve(self, ref: Ref) -> tuple[_Tree, int, Optional[np.ndarray]]:
        """The tree a ref's last node lives in, that node, and the map from its rows to ours."""
        tree, mapping = self.tree, None
        for leaf in ref[:-1]:
            tree, rows = tree.subtree(leaf)
            mapping = rows if mapping is None else mapping[rows]
        return tree, ref[-1], mapping

    def rows(self, ref: Ref) -> np.ndarray:
        tree, node, mapping = self._resolve(ref)
        rows = tree.node_rows(node)
        return rows if mapping is None else mapping[rows]

    def size(self, ref: Ref) -> int:
        tree, node, _ = self._resolve(ref)
        return tree.node_size(node)

    def children(self, ref: Ref) -> tuple[Ref, ...]:
        """The two clusters a cluster was merged from; a micro-cluster is clustered on demand."""
        tree, node, _ = self._resolve(ref)
        if node >= tree.n_leaves:
            a, b = tree.linkage[node - tree.n_leaves, :2].astype(int)
            return ref[:-1] + (int(a),), ref[:-1] + (int(b),)
        if tree.node_size(node) > 1:
            sub, _ = tree.subtree(node)
            return self.children(ref + (sub.root,))
        return ()

    def height(self, ref: Ref) -> float:
        tree, node, _ = self._resolve(ref)
        if node >= tree.n_leaves:
            return float(tree.linkage[node - tree.n_leaves, 2])
        if tree.node_size(node) > 1:
            return self.height(ref + (tree.subtree(node)[0].root,))
        return 0.0

    def clusters_for_height(self, height: float) -> int:
        """How many clusters a horizontal cut at this height makes."""
        return 1 + int(np.count_nonzero(self.tree.linkage[:, 2] > height))

    def cut(self, k: Optional[int] = None, height: Optional[float] = None) -> list[Cluster]:
        """The clusters that remain when the last k−1 merges (or every merge above ``height``) are
        undone, numbered from left to right as the dendrogram draws them.  At most one cluster per
        top-tree leaf."""
        if (k is None) == (height is None):
            raise ValueError("cut by k or by height, not both")
        if height is not None:
            k = self.clusters_for_height(height)
        m = self.tree.n_leaves
        k = max(1, min(int(k), m))
        kept = m - k
        consumed = set(self.tree.linkage[:kept, :2].astype(int).ravel().tolist())
        nodes = [n for n in range(m + kept) if n not in consumed]
        nodes.sort(key=lambda n: self._first[n])
        return [Cluster(i + 1, (n,), self.tree.node_rows(n)) for i, n in enumerate(nodes)]

    def split(self, clusters: Sequence[Cluster], number: int) -> list[Cluster]:
        """The list with cluster ``number`` replaced by its two children (renumbered)."""
        refs: list[Ref] = []
        for c in clusters:
            refs.extend((self.children(c.ref) or (c.ref,)) if c.number == number else (c.ref,))
        return [Cluster(i + 1, ref, self.rows(ref)) for i, ref in enumerate(refs)]

    def node_counts(self, values: np.ndarray, n_values: int) -> np.ndarray:
        """Per top-tree node, how many of its tracks have each value (values < 0 are not counted):
        one pass over the tracks and one over the merges, so colouring a dendrogram is cheap."""
        leaf_counts = np.zeros((self.tree.n_leaves, n_values), dtype=np.int64)
        ok = values >= 0
        np.add.at(leaf_counts, (self.tree.leaf_of[ok], values[ok]), 1)
        return sum_up_the_tree(self.tree.linkage, leaf_counts)


def cluster_features(table: FeatureTable, method: str = "ward", pca: Optional[float] = None, seed: int = 0,
                     progress: Optional[ProgressCallback] = None,
                     cancel: Optional[CancelToken] = None, **limits: int) -> Clustering:
    """Prepare a feature table and cluster it: the one call the CLI and the GUI make."""
    report(progress)(Progress(0, 0, "standardising features"))
    return Clustering(prepare(table, pca), method, seed, progress=progress, cancel=cancel, **limits)


@dataclass(frozen=True)
class Branch:
    """One drawn branch of a truncated dendrogram: up from a node to its parent's height, then
    across to the parent's position."""

    node: int  # top-tree node id
    x: float
    bottom: float  # the node's height; 0 for the clusters drawn as leaves
    top: float  # the parent's height (the node's own for the root)
    parent_x: float
    is_leaf: bool


def dendrogram_branches(clustering: Clustering, shown: int) -> list[Branch]:
    """The top ``shown`` clusters as leaves at x = 0, 1, … (left to right) and every merge above
    them, parents after children.  Drawing this costs O(shown), whatever the number of tracks."""
    leaves = clustering.cut(k=shown)
    m = clustering.tree.n_leaves
    first_merge = m - len(leaves)
    x = {c.ref[0]: float(i) for i, c in enumerate(leaves)}
    y = {c.ref[0]: 0.0 for c in leaves}
    parent: dict[int, int] = {}
    for step in range(first_merge, m - 1):
        a, b, height = int(clustering.linkage[step, 0]), int(clustering.linkage[step, 1]), clustering.linkage[step, 2]
        node = m + step
        x[node], y[node] = (x[a] + x[b]) / 2, float(height)
        parent[a] = parent[b] = node
    return [
        Branch(node, x[node], y[node], y[parent[node]] if node in parent else y[node],
               x[parent[node]] if node in parent else x[node], node < m + first_merge)
        for node in x
    ]


# -- labels and statistics ------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelState:
    """The project's labels, as arrays over a clustering's rows."""

    classes: list[str]
    heard: np.ndarray  # class index of a label given by listening, else −1
    current: np.ndarray  # class index of the current label of any source, else −1
    settled: np.ndarray  # has a label by ear or from a checked cluster

    @classmethod
    def of(cls, clustering: Clustering, labels: Mapping[int, TrackLabel], classes: Sequence[str]) -> "LabelState":
        """Loops over the labels only, never over the tracks: a million tracks with a few
        thousand labels cost a sort of the track ids, not a million dictionary lookups."""
        index = {name: i for i, name in enumerate(classes)}
        n = len(clustering)
        heard, current, settled = np.full(n, -1), np.full(n, -1), np.zeros(n, dtype=bool)
        known = [(track_id, label) for track_id, label in labels.items() if label.class_name in index]
        if not known or not n:
            return cls(list(classes), heard, current, settled)
        found = clustering.rows_of([track_id for track_id, _ in known])
        rows = found[found >= 0]
        chosen = [label for (_, label), row in zip(known, found.tolist()) if row >= 0]
        current[rows] = [index[label.class_name] for label in chosen]
        is_heard = np.array([label.heard for label in chosen], dtype=bool)
        heard[rows[is_heard]] = current[rows[is_heard]]
        settled[rows] = [label.source in SETTLED_SOURCES for label in chosen]
        return cls(list(classes), heard, current, settled)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion: honest for small samples and for 0 % or 100 %,
    where the textbook ±1.96·√(p(1−p)/n) collapses to a zero-width interval."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At 0 % and 100 % the bound is exact: no rounding residue may put it beside the estimate.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class ClusterStats:
    """What a cluster looks like to the labels: sizes, counts by ear, majority, purity."""

    size: int
    labelled: int  # tracks with any current label
    heard: dict[str, int]  # class → tracks labelled by ear
    majority: Optional[str]
    purity: Optional[float]  # share of the heard tracks that are the majority class
    interval: Optional[tuple[float, float]]

    @property
    def heard_total(self) -> int:
        return sum(self.heard.values())

    def purity_text(self) -> str:
        if self.purity is None:
            return "unknown"
        low, high = self.interval or (0.0, 1.0)
        return f"{self.purity:.0%} ({low:.0%}–{high:.0%})"


def cluster_stats(rows: np.ndarray, labels: LabelState) -> ClusterStats:
    heard = labels.heard[rows]
    counts = np.bincount(heard[heard >= 0], minlength=len(labels.classes))
    total = int(counts.sum())
    majority = purity = interval = None
    if total:
        best = int(np.argmax(counts))
        majority, purity = labels.classes[best], counts[best] / total
        interval = wilson_interval(int(counts[best]), total)
    return ClusterStats(
        size=len(rows),
        labelled=int(np.count_nonzero(labels.current[rows] >= 0)),
        heard={name: int(n) for name, n in zip(labels.classes, counts) if n},
        majority=majority,
        purity=purity,
        interval=interval,
    )


# -- guided labeling ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """The next step of guided labeling.

    ``listen``: label the tracks in ``sample`` by ear.  ``accept``: the sample agrees; label
    ``to_label`` (the cluster's tracks nobody has decided yet) as ``class_name``, or decline.
    ``done``: every track under the starting clusters is settled.  ``stats`` describe the whole
    cluster, ``sample_stats`` the random sample that the decision rests on.
    """

    kind: Literal["listen", "accept", "done"]
    ref: Optional[Ref] = None
    stats: Optional[ClusterStats] = None
    sample_stats: Optional[ClusterStats] = None
    sample: tuple[int, ...] = ()
    class_name: Optional[str] = None
    to_label: tuple[int, ...] = ()
    open_tracks: int = 0  # tracks not yet settled under the starting clusters
    open_clusters: int = 0
    root: int = 0  # index of the starting cluster that ``ref`` lies in
    sample_goal: int = 0  # tracks heard by ear the cluster needs before it can be offered whole


@dataclass
class GuidedLabeling:
    """The HCGL loop over a clustering.  ``propose`` is a pure function of the labels (plus the
    clusters the user declined), so it can be asked again after every key press."""

    clustering: Clustering
    roots: Sequence[Ref] = ()
    sample_size: int = 8
    threshold: float = 0.9  # accept a split sample (of 2k) when at least this share agrees
    seed: int = 0
    declined: set[Ref] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.roots = list(self.roots) or [self.clustering.root]
        # One random order of all tracks: a cluster's sample is its first tracks in this order.
        # A child's sample therefore begins with the tracks of its parent's sample that lie in it
        # (already heard when the parent was split), and the order survives a restart.
        self._rank = np.random.default_rng(self.seed).permutation(len(self.clustering))

    def decline(self, ref: Ref) -> None:
        """The user would rather split this cluster than label it whole."""
        self.declined.add(ref)

    def propose(self, labels: LabelState) -> Proposal:
        best: Optional[tuple[tuple[int, ...], Ref, int, np.ndarray, np.ndarray, np.ndarray]] = None
        open_tracks = open_clusters = 0
        heard_in_root = [int(np.count_nonzero(labels.heard[self.clustering.rows(ref)] >= 0)) for ref in self.roots]
        stack = [(ref, root) for root, ref in reversed(list(enumerate(self.roots)))]
        while stack:
            ref, root = stack.pop()
            rows = self.clustering.rows(ref)
            unsettled = int(np.count_nonzero(~labels.settled[rows]))
            if not unsettled:
                continue
            sample, counts = self._sample(rows, labels)
            n_heard, top, goal = int(counts.sum()), int(counts.max(initial=0)), len(sample)
            need = goal - n_heard
            hopeless = n_heard > 0 and (top + need) < self.threshold * (n_heard + need)
            if ref in self.declined or hopeless:
                children = self.clustering.children(ref)
                if children:
                    stack.extend((child, root) for child in reversed(children))
                    continue
            open_tracks += unsettled
            open_clusters += 1
            # First offer the clusters whose sample is complete.  Then stay in the starting cluster
            # with the most tracks heard, and in it go on with the begun sample that has the most
            # tracks heard, else start on its largest cluster nobody has heard.  Labelling the
            # sample in hand only adds to both counts, so it stays first: a key press never moves
            # the loop to another cluster before the sample is done, and a sample that disagrees
            # is followed into the halves of its cluster before another starting cluster.
            tier = 0 if not need else 1 if n_heard else 2
            priority = (min(tier, 1), -heard_in_root[root], tier, -n_heard, -unsettled)
            if best is None or priority < best[0]:
                best = (priority, ref, root, rows, sample, counts)
        if best is None:
            return Proposal("done")
        _, ref, root, rows, sample, counts = best
        track_ids = self.clustering.track_ids
        common = dict(stats=cluster_stats(rows, labels), sample_stats=cluster_stats(sample, labels),
                      open_tracks=open_tracks, open_clusters=open_clusters, root=root, sample_goal=len(sample))
        unheard = sample[labels.heard[sample] < 0]
        if len(unheard):
            return Proposal("listen", ref, sample=tuple(track_ids[unheard].tolist()), **common)
        return Proposal(
            "accept", ref,
            class_name=labels.classes[int(np.argmax(counts))],
            to_label=tuple(track_ids[rows[~labels.settled[rows]]].tolist()),
            **common,
        )

    def _sample(self, rows: np.ndarray, labels: LabelState) -> tuple[np.ndarray, np.ndarray]:
        """The cluster's random sample (rows) and the counts per class of its tracks heard so far.

        The sample is the cluster's first ``sample_size`` tracks in the random order: labels given
        by ear elsewhere in the cluster (say, tracks found through a path filter) are no sample
        of it and do not count.  A unanimous sample of k is enough; a split one grows to 2k to
        carry a majority of at least ``threshold``: 5 of 6 is too easily a half-and-half cluster."""
        ordered = self._first_in_order(rows, 2 * self.sample_size)
        for size in (self.sample_size, 2 * self.sample_size):
            sample = ordered[:size]
            heard = labels.heard[sample]
            counts = np.bincount(heard[heard >= 0], minlength=len(labels.classes))
            if counts.max(initial=0) == counts.sum():  # unanimous so far
                break
        return sample, counts

    def _first_in_order(self, rows: np.ndarray, count: int) -> np.ndarray:
        """The ``count`` rows that come first in the random order, in that order: a partition,
        linear in the cluster's size, then a sort of ``count`` rows, where sorting the whole
        cluster (the root holds every track) made each proposal O(n log n) per cluster visited."""
        ranks = self._rank[rows]
        if len(rows) > count:
            first = np.argpartition(ranks, count - 1)[:count]
            rows, ranks = rows[first], ranks[first]
        return rows[np.argsort(ranks)]


# -- playlists ------------------------------------------------------------------------------------


def write_playlist(clustering: Clustering, rows: np.ndarray, path: Path) -> int:
    """One m3u8 of the given rows' tracks; returns the number of entries."""
    return write_m3u(Path(path), (PlaylistEntry(clustering.features.paths[r]) for r in rows))


def export_playlists(clustering: Clustering, groups: Mapping[str, np.ndarray], folder: Path) -> list[Path]:
    """Write one m3u8 per named group of rows (a cluster, or every cluster of one class)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in groups.items():
        written.append(folder / f"{_file_name(name)}.m3u8")
        write_playlist(clustering, rows, written[-1])
    return written


def cluster_groups(clusters: Iterable[Cluster]) -> dict[str, np.ndarray]:
    """``cluster_01`` … one group per cluster."""
    clusters = list(clusters)
    width = max(2, len(str(len(clusters))))
    return {f"cluster_{c.number:0{width}d}": c.rows for c in clusters}


def class_groups(clusters: Iterable[Cluster], labels: LabelState) -> dict[str, np.ndarray]:
    """One group per majority class, joining the clusters that class leads; clusters nobody has
    listened to yet go to ``unchecked``."""
    groups: dict[str, list[np.ndarray]] = {}
    for c in clusters:
        groups.setdefault(cluster_stats(c.rows, labels).majority or "unchecked", []).append(c.rows)
    return {name: np.concatenate(parts) for name, parts in groups.items()}


def _file_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in name).strip() or "cluster"
