"""Which experts to merge: routing statistics, dominant-expert grouping and output clustering.

* MC-SMoE (Li et al., "Merge, Then Compress: Demystify Efficient SMoE with
  Hints from Its Routing Policy", ICLR 2024, arXiv:2310.01334; spec
  ``merge.md`` 8, steps 2-5): usage frequencies from the top-k choices on
  calibration tokens, router-logit similarity, the most-used experts as
  group dominants, every other expert joining its most similar dominant, and
  the global (layer-adaptive) group allocation.
* Sub-MoE (Li et al., "Sub-MoE: Efficient Mixture-of-Expert LLMs Compression
  via Subspace Expert Merging", AAAI 2026, arXiv:2506.23266; spec 9 step 2):
  k-means on the experts' normalised outputs (cosine clustering).

Resolution (spec 8 pitfalls): the released grouping loops have index bugs; the
logic implemented is the README's (the global version's encoder branch):
non-dominant experts are visited in decreasing frequency and join the most
similar remaining dominant, for every layer and both allocation modes.
Frequency ties are broken towards the lower expert index.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from diversa.combine.moe.experts import ExpertWeights

__all__ = ["allocate_groups_globally", "cluster_experts", "expert_usage_frequency", "group_by_dominant",
           "router_logit_similarity", "weight_similarity"]


def _tokens(x: torch.Tensor, name: str = "X_calib") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of tokens [N, d], got {type(x).__name__}.")
    if x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty [N, d] tensor of calibration tokens, got shape {tuple(x.shape)}.")
    return x.detach().float()


def _need_route(experts: ExpertWeights):
    if experts.route is None:
        raise ValueError("these experts carry no routing (route=None); read them from a layer with read_experts().")
    return experts.route


def expert_usage_frequency(experts: ExpertWeights, x: torch.Tensor) -> torch.Tensor:
    """Share of the top-k assignments of calibration tokens ``x`` [N, d] each expert receives: [E], sums to 1.

    MC-SMoE step 2 (Sub-MoE counts frequencies the same way). Assignments to
    ids >= E (null experts) are not counted; with none left the result is uniform.
    """
    _, idx = _need_route(experts)(_tokens(x))
    idx = idx.reshape(-1)
    counts = torch.bincount(idx[idx < experts.num_experts], minlength=experts.num_experts).float()
    total = counts.sum()
    return counts / total if total > 0 else torch.full_like(counts, 1.0 / experts.num_experts)


def router_logit_similarity(experts: ExpertWeights, x: torch.Tensor) -> torch.Tensor:
    """``(cos(z_i, z_j) + 1) / 2`` between experts' router-logit columns on tokens ``x`` [N, d]: [E, E] in [0, 1].

    MC-SMoE step 3 (``similarity_base="router-logits"``); the diagonal is 1.
    """
    logits, _ = _need_route(experts)(_tokens(x))
    return _cosine_affinity(logits.t())


def weight_similarity(experts: ExpertWeights) -> torch.Tensor:
    """``(cos + 1) / 2`` between the experts' flattened weights: [E, E] (the repo's ``similarity_base="weight"``)."""
    flat = torch.cat([experts.w_in.reshape(experts.num_experts, -1), experts.w_out.reshape(experts.num_experts, -1)],
                     dim=1)
    return _cosine_affinity(flat)


def _cosine_affinity(rows: torch.Tensor) -> torch.Tensor:
    unit = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
    sim = ((unit @ unit.t()) + 1.0) / 2.0
    sim = (sim + sim.t()) / 2.0  # the repo computes i<j pairs and mirrors them: exactly symmetric
    sim.fill_diagonal_(1.0)
    return sim.clamp(0.0, 1.0)


def _by_frequency(freq: torch.Tensor) -> list[int]:
    """Expert ids by decreasing frequency, ties to the lower id."""
    return torch.sort(freq, descending=True, stable=True).indices.tolist()


def group_by_dominant(freq: torch.Tensor, similarity: torch.Tensor, n_groups: int,
                      capacity: int | None = None) -> tuple[torch.Tensor, list[int]]:
    """MC-SMoE's grouping: ``(labels [E], dominants)``; group ``g`` has dominant expert ``dominants[g]``.

    The ``n_groups`` most-used experts are the dominants (group id = frequency
    rank); every other expert, in decreasing frequency, joins the remaining
    dominant it is most similar to (``similarity [E, E]``). With ``capacity``
    a group holding that many experts (its dominant included) takes no more.
    """
    freq = torch.as_tensor(freq, dtype=torch.float32)
    n_experts = freq.numel()
    if freq.dim() != 1 or n_experts == 0:
        raise ValueError(f"freq must be a non-empty 1-D tensor, got shape {tuple(freq.shape)}.")
    if tuple(similarity.shape) != (n_experts, n_experts):
        raise ValueError(f"similarity must be [{n_experts}, {n_experts}], got {tuple(similarity.shape)}.")
    if isinstance(n_groups, bool) or not isinstance(n_groups, int) or not 1 <= n_groups <= n_experts:
        raise ValueError(f"n_groups must be an int in 1..{n_experts} (the number of experts), got {n_groups!r}.")
    if capacity is not None and (not isinstance(capacity, int) or capacity * n_groups < n_experts or capacity < 1):
        raise ValueError(f"capacity must be an int with capacity * n_groups >= {n_experts}, got {capacity!r}.")
    order = _by_frequency(freq)
    dominants = order[:n_groups]
    labels = torch.empty(n_experts, dtype=torch.long)
    sizes = [1] * n_groups
    for g, e in enumerate(dominants):
        labels[e] = g
    for e in order[n_groups:]:
        open_groups = [g for g in range(n_groups) if capacity is None or sizes[g] < capacity]
        best = max(open_groups, key=lambda g: (float(similarity[e, dominants[g]]), -g))
        labels[e] = best
        sizes[best] += 1
    return labels, dominants


def allocate_groups_globally(freqs: Sequence[torch.Tensor], avg_groups: int,
                             merged: Sequence[bool] | None = None) -> list[int]:
    """Groups per layer with ``avg_groups`` on average over the merged layers (MC-SMoE step 4, ``globally_group``).

    Every layer's most-used expert counts 1 (so each merged layer keeps >= 1
    group) and unmerged layers count all their experts as 1; the threshold is
    the ``(G L_merged + E L_unmerged + 1)``-th largest of all frequencies, and a
    merged layer gets as many groups as it has experts above it. The total is
    ``avg_groups * L_merged`` up to frequency ties.
    """
    freqs = [torch.as_tensor(f, dtype=torch.float32) for f in freqs]
    if not freqs:
        raise ValueError("freqs must list at least one layer's frequencies.")
    merged = [True] * len(freqs) if merged is None else [bool(m) for m in merged]
    if len(merged) != len(freqs):
        raise ValueError(f"merged must have one flag per layer ({len(freqs)}), got {len(merged)}.")
    n_experts = {f.numel() for f in freqs}
    smallest = min(n_experts)
    if isinstance(avg_groups, bool) or not isinstance(avg_groups, int) or not 1 <= avg_groups <= smallest:
        raise ValueError(f"avg_groups must be an int in 1..{smallest}, got {avg_groups!r}.")
    if avg_groups == smallest and len(n_experts) == 1:
        return [f.numel() for f in freqs]  # every expert is its own group
    scores = []
    for f, m in zip(freqs, merged):
        f = torch.ones_like(f) if not m else f.clone()
        f[int(torch.argmax(f))] = 1.0
        scores.append(f)
    total = avg_groups * sum(merged) + sum(f.numel() for f, m in zip(freqs, merged) if not m)
    ranked = torch.sort(torch.cat(scores), descending=True).values
    threshold = float(ranked[min(total, ranked.numel() - 1)])
    if threshold >= 1.0:
        raise ValueError(f"too many groups: avg_groups={avg_groups} leaves no expert to merge.")
    return [int((f > threshold).sum()) if m else f.numel() for f, m in zip(scores, merged)]


def cluster_experts(outputs: torch.Tensor, n_clusters: int, features: str = "outputs", n_init: int = 10,
                    random_state: int | None = 0) -> torch.Tensor:
    """Sub-MoE's clustering: k-means labels [E] of experts from their outputs ``[E, N, d]`` on calibration tokens.

    ``features="outputs"``: each expert's flattened outputs scaled to unit
    norm (Euclidean k-means on unit vectors = clustering by cosine
    similarity); ``"similarity_rows"``: row e of the experts' cosine
    similarity matrix. ``sklearn.cluster.KMeans(n_clusters, n_init,
    random_state)``. If identical experts leave fewer than ``n_clusters``
    distinct labels, the largest cluster is split until there are
    ``n_clusters``. Labels are renumbered in order of first appearance.
    """
    from sklearn.cluster import KMeans

    if not isinstance(outputs, torch.Tensor) or outputs.dim() < 2:
        raise ValueError("outputs must be a tensor [E, N, d] (or [E, F]) of expert outputs.")
    n_experts = outputs.shape[0]
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int) or not 1 <= n_clusters <= n_experts:
        raise ValueError(f"n_clusters must be an int in 1..{n_experts} (the number of experts), got {n_clusters!r}.")
    if features not in ("outputs", "similarity_rows"):
        raise ValueError(f"features must be 'outputs' or 'similarity_rows', got {features!r}.")
    flat = outputs.detach().reshape(n_experts, -1).double()
    unit = flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)
    gram = (unit @ unit.t()).numpy()
    if features == "similarity_rows":
        z, tol = gram, 1e-4
    else:
        # k-means sees only distances and centroid means, so E-dimensional coordinates with the same Gram
        # matrix give the clustering of the N*d-dimensional outputs at a fraction of the cost; the tolerance
        # is rescaled because scikit-learn scales it by the mean per-feature variance.
        eigval, eigvec = np.linalg.eigh(gram)
        z = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
        tol = 1e-4 * z.shape[1] / unit.shape[1]
    labels = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=random_state, tol=tol).fit_predict(z)
    labels = _fill_empty_clusters(np.asarray(labels), n_clusters)
    _, first = np.unique(labels, return_index=True)
    renumber = {old: new for new, old in enumerate(labels[np.sort(first)])}
    return torch.tensor([renumber[v] for v in labels], dtype=torch.long)


def _fill_empty_clusters(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    labels = labels.copy()
    while len(np.unique(labels)) < n_clusters:
        values, counts = np.unique(labels, return_counts=True)
        largest = values[np.argmax(counts)]
        member = np.flatnonzero(labels == largest)[-1]
        labels[member] = max(values) + 1
    return labels
