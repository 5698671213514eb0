"""A small discrete soft actor-critic (Christodoulou, 2019): a softmax actor, twin Q critics with target
copies, a fixed entropy temperature, and a bounded replay buffer. PyTorch, CPU; a few thousand weights.

The replay buffer is a set of preallocated arrays used as a ring: drawing a batch is one fancy index, where
copying a deque of transitions per update cost more than the update itself."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Small networks: one thread is fastest, and a scheduler must not take every core from the node.
torch.set_num_threads(1)


def mlp(inputs: int, outputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs)
    )


@dataclass
class Transition:
    state: np.ndarray
    action: int
    reward: float
    next_state: np.ndarray


class DiscreteSac:
    def __init__(
        self,
        state_dim: int,
        actions: int,
        *,
        hidden: int = 64,
        lr: float = 3e-4,
        gamma: float = 0.9,
        alpha: float = 0.05,
        tau: float = 0.02,
        buffer: int = 20_000,
        batch: int = 64,
        seed: int = 0,
    ) -> None:
        torch.manual_seed(seed)
        self.random = random.Random(seed)
        self.state_dim, self.actions = state_dim, actions
        self.actor = mlp(state_dim, actions, hidden)
        self.q1, self.q2 = mlp(state_dim, actions, hidden), mlp(state_dim, actions, hidden)
        self.t1, self.t2 = mlp(state_dim, actions, hidden), mlp(state_dim, actions, hidden)
        self.t1.load_state_dict(self.q1.state_dict())
        self.t2.load_state_dict(self.q2.state_dict())
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=lr)
        self.q_opt = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=lr)
        self.gamma, self.alpha, self.tau, self.batch = gamma, alpha, tau, batch
        self.states = np.zeros((buffer, state_dim), dtype=np.float32)
        self.next_states = np.zeros((buffer, state_dim), dtype=np.float32)
        self.chosen = np.zeros(buffer, dtype=np.int64)
        self.rewards = np.zeros(buffer, dtype=np.float32)
        self.stored = 0
        self.sampler = np.random.default_rng(seed)
        self.epsilon = 0.0
        """Share of exploring actions drawn uniformly instead of from the policy (training only)."""
        self.updates = 0

    def act(self, state: np.ndarray, *, explore: bool) -> int:
        with torch.no_grad():
            logits = self.actor(torch.as_tensor(state, dtype=torch.float32).unsqueeze(0))[0]
        if not explore:
            return int(torch.argmax(logits).item())
        if self.epsilon and self.random.random() < self.epsilon:
            return self.random.randrange(self.actions)
        probs = torch.softmax(logits, dim=-1).numpy().astype(float)
        return int(self.random.choices(range(self.actions), weights=list(probs))[0])

    def remember(self, transition: Transition) -> None:
        slot = self.stored % len(self.rewards)
        self.states[slot] = transition.state
        self.next_states[slot] = transition.next_state
        self.chosen[slot] = transition.action
        self.rewards[slot] = transition.reward
        self.stored += 1

    @property
    def replay_size(self) -> int:
        return min(self.stored, len(self.rewards))

    def update(self) -> dict[str, float] | None:
        if self.replay_size < self.batch:
            return None
        rows = self.sampler.integers(0, self.replay_size, self.batch)
        s = torch.from_numpy(self.states[rows])
        a = torch.from_numpy(self.chosen[rows]).unsqueeze(1)
        r = torch.from_numpy(self.rewards[rows])
        s2 = torch.from_numpy(self.next_states[rows])
        with torch.no_grad():
            logp2 = torch.log_softmax(self.actor(s2), dim=-1)
            p2 = logp2.exp()
            q_next = torch.min(self.t1(s2), self.t2(s2))
            v_next = (p2 * (q_next - self.alpha * logp2)).sum(dim=-1)
            target = r + self.gamma * v_next
        q_loss = ((self.q1(s).gather(1, a).squeeze(1) - target) ** 2).mean() + (
            (self.q2(s).gather(1, a).squeeze(1) - target) ** 2
        ).mean()
        self.q_opt.zero_grad()
        q_loss.backward()
        self.q_opt.step()
        logp = torch.log_softmax(self.actor(s), dim=-1)
        with torch.no_grad():
            q = torch.min(self.q1(s), self.q2(s))
        actor_loss = (logp.exp() * (self.alpha * logp - q)).sum(dim=-1).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        with torch.no_grad():
            for target_net, net in ((self.t1, self.q1), (self.t2, self.q2)):
                for tp, p in zip(target_net.parameters(), net.parameters(), strict=True):
                    tp.mul_(1 - self.tau).add_(self.tau * p)
        self.updates += 1
        return {"q_loss": float(q_loss.item()), "actor_loss": float(actor_loss.item())}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "dims": [self.state_dim, self.actions],
            "actor": self.actor.state_dict(),
            "q1": self.q1.state_dict(),
            "q2": self.q2.state_dict(),
        }
        torch.save(state, path)

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if list(state["dims"]) != [self.state_dim, self.actions]:
            raise ValueError(f"{path}: weights for {state['dims']}, this agent has {[self.state_dim, self.actions]}")
        self.actor.load_state_dict(state["actor"])
        self.q1.load_state_dict(state["q1"])
        self.q2.load_state_dict(state["q2"])
        self.t1.load_state_dict(self.q1.state_dict())
        self.t2.load_state_dict(self.q2.state_dict())
