"""An auxiliary choice of a pair search: the support (inner-step) and query (meta-step) language sets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Pair"]


@dataclass(frozen=True)
class Pair:
    """An auxiliary choice: the support (inner-step) and query (meta-step) language sets."""

    support: tuple[str, ...]
    query: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """As :attr:`xlsweep.config.schema.AuxChoice.label`: ``ana→bel``, ``bel+cor→dun`` or ``bel``."""
        support = "+".join(self.support)
        return f"{support}→{'+'.join(self.query)}" if self.query else support

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.support + self.query))
