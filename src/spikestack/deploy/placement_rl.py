"""A reinforcement-learning placer: a graph-convolution actor-critic over the core mesh.

After Zhu et al., "Core Placement Optimization of Many-core Brain-Inspired Near-Storage
Systems for Spiking Neural Network Training" (arXiv 2411.19430): the many-core topology is
the state, seen through graph convolutions; the policy outputs one continuous value per
physical core and a placement is read off those values (discretised); an actor-critic
updated by proximal policy optimisation learns which outputs lower the cost.

Here, concretely:

- state: per physical core of the ``rows × cols`` mesh, its normalised row and column,
  whether a logical core sits there and, if so, that core's outgoing and incoming traffic
  and its layer (all scaled to [0, 1]), under the current best placement;
- actor: two graph convolutions H' = ReLU(Â H W) with Â = D^-1/2 (A + I) D^-1/2 of the
  mesh, then a linear map and tanh: one value in [-1, 1] per physical core;
- discretisation: the current placement gives each physical core a rank score (1 − i/n
  where logical core i sits, −1 where none does); the action moves each score by
  (4/n)·value, and logical cores in layer order take the physical cores in decreasing
  order of score, so small actions keep the placement and larger ones reorder it;
- critic: the same graph convolutions over the state, mean-pooled, then a small MLP: the
  expected reward of the state (the baseline);
- episodes of one step in batches (default 32) from the current best placement: the
  action is the actor's output plus Gaussian noise (σ falling from 0.5 to 0.05), the
  reward (cost(best) − cost(new)) / cost(start) with the cost of
  :func:`spikestack.deploy.mapping.placement_cost`; the actor is updated by proximal
  policy optimisation (clipped probability ratio, 4 epochs a batch) on the advantage
  reward − critic, normalised over the batch; the critic by squared error. The best
  placement seen is returned, never worse than ``start``.

On a chain of 8 layers on a 3×3 mesh (tests/deploy/test_mapping.py) it finds the
annealer's cost (850 against the naive 1400); on 20 layers on 5×5 it reaches 2,500–2,700
against the naive 3,200 and simulated annealing's 2,100 (2,000 episodes, about a second):
the annealer stays the default placer.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from spikestack.deploy.mapping import Chip, Mapping, place_naive, placement_cost
from spikestack.validation import check_int

_FEATURES = 6
REACH = 4.0  # an action of ±1 moves a core's rank score by REACH / n: about two places
SIGMA = 0.5  # exploration noise at the start, falling linearly to 0.05
EPOCHS = 4  # PPO epochs per batch of episodes
CLIP = 0.2  # PPO's clipping of the probability ratio


def mesh_adjacency(rows: int, cols: int) -> Tensor:
    """Â = D^-1/2 (A + I) D^-1/2 of the rows × cols mesh (4-neighbourhood)."""
    n = rows * cols
    a = torch.eye(n)
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                a[i, i + 1] = a[i + 1, i] = 1.0
            if r + 1 < rows:
                a[i, i + cols] = a[i + cols, i] = 1.0
    d = a.sum(1).rsqrt()
    return d[:, None] * a * d[None, :]


class _GCN(nn.Module):
    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(features, hidden)
        self.w2 = nn.Linear(hidden, hidden)

    def forward(self, adj: Tensor, h: Tensor) -> Tensor:
        return torch.relu(adj @ self.w2(torch.relu(adj @ self.w1(h))))


class Actor(nn.Module):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.gcn = _GCN(_FEATURES, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, adj: Tensor, state: Tensor) -> Tensor:
        return torch.tanh(self.out(self.gcn(adj, state))).squeeze(-1)


class Critic(nn.Module):
    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.gcn = _GCN(_FEATURES, hidden)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, adj: Tensor, state: Tensor) -> Tensor:
        return self.head(self.gcn(adj, state).mean(-2)).squeeze(-1)


def placement_state(mapping: Mapping, placement: list[tuple[int, int]], chip: Chip) -> Tensor:
    """The [rows·cols, 6] node features of a placement (see the module docstring)."""
    state = torch.zeros(chip.rows * chip.cols, _FEATURES)
    for r in range(chip.rows):
        for c in range(chip.cols):
            state[r * chip.cols + c, 0] = r / max(chip.rows - 1, 1)
            state[r * chip.cols + c, 1] = c / max(chip.cols - 1, 1)
    out, into = mapping.traffic.sum(1), mapping.traffic.sum(0)
    scale = max(float(out.max(initial=0)), float(into.max(initial=0)), 1e-12)
    layers = max(max((core.layer for core in mapping.cores), default=0), 1)
    for i, (r, c) in enumerate(placement):
        node = r * chip.cols + c
        state[node, 2:] = torch.tensor(
            [1.0, out[i] / scale, into[i] / scale, mapping.cores[i].layer / layers]
        )
    return state


def rank_scores(placement: list[tuple[int, int]], chip: Chip) -> Tensor:
    """Per physical core: 1 - i/n where logical core i sits, -1 where none does (so that
    ranking the scores gives ``placement`` back)."""
    n = len(placement)
    scores = torch.full((chip.rows * chip.cols,), -1.0)
    for i, (r, c) in enumerate(placement):
        scores[r * chip.cols + c] = 1.0 - i / n
    return scores


def discretise(
    action: Tensor, current: list[tuple[int, int]], chip: Chip, reach: float
) -> list[tuple[int, int]]:
    """The placement the action makes of ``current``: each physical core's rank score moves
    by ``reach · action`` and logical core i takes the core with the i-th largest score."""
    scores = rank_scores(current, chip) + reach * action
    order = torch.argsort(scores, descending=True, stable=True)[: len(current)]
    return [divmod(int(node), chip.cols) for node in order]


def place_rl(
    mapping: Mapping,
    chip: Chip,
    *,
    episodes: int = 2000,
    seed: int = 0,
    start: list[tuple[int, int]] | None = None,
    batch: int = 32,
) -> list[tuple[int, int]]:
    """The best placement found by the actor-critic in ``episodes`` one-step episodes,
    starting from ``start`` (default: the naive placement). Seeded: the same call gives the
    same placement."""
    check_int("episodes", episodes, minimum=1)
    check_int("batch", batch, minimum=1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tensors of a few hundred values: threads only cost time
    try:
        return _train(mapping, chip, episodes, seed, start, batch)
    finally:
        torch.set_num_threads(threads)


def _train(
    mapping: Mapping,
    chip: Chip,
    episodes: int,
    seed: int,
    start: list[tuple[int, int]] | None,
    batch: int,
) -> list[tuple[int, int]]:
    start = list(start or place_naive(mapping, chip))
    n = len(mapping.cores)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        actor, critic = Actor(), Critic()
    adj = mesh_adjacency(chip.rows, chip.cols)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=3e-3)
    critic_opt = torch.optim.Adam(critic.parameters(), lr=3e-3)
    base = max(placement_cost(mapping, start), 1e-12)
    best, best_cost = start, placement_cost(mapping, start)
    reach = REACH / n
    done = 0
    while done < episodes:
        k = min(batch, episodes - done)
        done += k
        sigma = SIGMA * (1 - done / episodes) + 0.05
        state = placement_state(mapping, best, chip)
        with torch.no_grad():
            mean = actor(adj, state)
            actions = mean + sigma * torch.randn((k, *mean.shape), generator=generator)
            old_logp = _log_prob(actions, mean, sigma)
        placements = [discretise(a, best, chip, reach) for a in actions]
        costs = torch.tensor([placement_cost(mapping, p) for p in placements])
        rewards = (best_cost - costs) / base
        states = state.expand(k, *state.shape)
        for _ in range(EPOCHS):  # proximal policy optimisation of the actor
            with torch.no_grad():
                advantage = rewards - critic(adj, states)
                advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
            ratio = torch.exp(_log_prob(actions, actor(adj, state), sigma) - old_logp)
            clipped = torch.clamp(ratio, 1 - CLIP, 1 + CLIP)
            actor_loss = -torch.min(ratio * advantage, clipped * advantage).mean()
            actor_opt.zero_grad()
            actor_loss.backward()
            actor_opt.step()
            critic_loss = (critic(adj, states) - rewards).pow(2).mean()
            critic_opt.zero_grad()
            critic_loss.backward()
            critic_opt.step()
        i = int(torch.argmin(costs))
        if float(costs[i]) < best_cost:
            best, best_cost = placements[i], float(costs[i])
    return best


def _log_prob(actions: Tensor, mean: Tensor, sigma: float) -> Tensor:
    """log N(actions; mean, sigma²) summed over the cores (up to a constant)."""
    return (-0.5 * ((actions - mean) / sigma) ** 2).sum(-1)
