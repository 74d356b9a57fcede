"""Neighbour sampling in plain torch, for ``NodeLoader`` mini-batches without pyg-lib or
torch-sparse (PyG's own ``NeighborLoader`` needs one of them).

Same contract as PyG's ``NeighborSampler`` (homogeneous graph, ``disjoint=False``, no
time): the seed nodes come first in ``node``; hop by hop, each node of the frontier keeps
up to ``num_neighbors[hop]`` of its incoming edges, drawn uniformly without replacement
(``-1``: all of them); nodes seen for the first time form the next frontier.  The edges
are the sampled ones (not the induced subgraph), ``row`` the sources and ``col`` the
destinations, local to ``node``.  Vectorised: one sort per hop, no Python loop over nodes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch_geometric.sampler import BaseSampler, NodeSamplerInput, SamplerOutput


class TorchNeighborSampler(BaseSampler):
    def __init__(self, edge_index: torch.Tensor, num_nodes: int, num_neighbors: list[int],
                 generator: torch.Generator | None = None) -> None:
        src, dst = edge_index[0].long().cpu(), edge_index[1].long().cpu()
        order = torch.argsort(dst, stable=True)  # CSC: the incoming edges of each node together
        self.row = src[order]
        self.edge_id = order
        self.colptr = torch.zeros(num_nodes + 1, dtype=torch.long)
        self.colptr[1:] = torch.cumsum(torch.bincount(dst, minlength=num_nodes), 0)
        self.num_nodes = num_nodes
        self.num_neighbors = [int(k) for k in num_neighbors]
        self.generator = generator
        self._local = torch.full((num_nodes,), -1, dtype=torch.long)  # global -> local, reset per batch

    def sample_from_nodes(self, inputs: NodeSamplerInput, **kwargs: Any) -> SamplerOutput:
        seeds = inputs.node.long().cpu()
        local = self._local
        nodes = [seeds]
        local[seeds] = torch.arange(len(seeds))
        count = len(seeds)
        rows, cols, edges = [], [], []
        sampled_nodes, sampled_edges = [len(seeds)], []
        frontier = seeds
        try:
            for k in self.num_neighbors:
                start = self.colptr[frontier]
                degree = self.colptr[frontier + 1] - start
                owner = torch.repeat_interleave(torch.arange(len(frontier)), degree)
                offset = torch.arange(len(owner)) - torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree)
                position = start[owner] + offset
                if k >= 0 and len(position):
                    # a random rank within each node's incoming edges: keep the first k
                    keys = torch.rand(len(position), generator=self.generator)
                    order = torch.argsort(keys)
                    order = order[torch.argsort(owner[order], stable=True)]
                    first = torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree)
                    rank = torch.empty_like(order)
                    rank[order] = torch.arange(len(order)) - first
                    keep = rank < k
                    owner, position = owner[keep], position[keep]
                source = self.row[position]
                fresh = torch.unique(source[local[source] < 0])
                local[fresh] = torch.arange(count, count + len(fresh))
                count += len(fresh)
                nodes.append(fresh)
                rows.append(local[source])
                cols.append(local[frontier[owner]])
                edges.append(self.edge_id[position])
                sampled_nodes.append(len(fresh))
                sampled_edges.append(len(position))
                frontier = fresh
            node = torch.cat(nodes)
        finally:
            local[torch.cat(nodes)] = -1
        empty = torch.zeros(0, dtype=torch.long)
        return SamplerOutput(node=node, row=torch.cat(rows) if rows else empty, col=torch.cat(cols) if cols else empty,
                             edge=torch.cat(edges) if edges else empty, batch=None,
                             num_sampled_nodes=sampled_nodes, num_sampled_edges=sampled_edges,
                             metadata=(inputs.input_id, inputs.time))

    def sample_from_edges(self, index: Any, neg_sampling: Any = None) -> Any:
        raise NotImplementedError("kampai's torch sampler samples from nodes only")
