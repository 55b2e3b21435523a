"""Stable small-integer ids for names (lflow cookies, synthetic group keys, chassis ids)."""


class StableIds:
    """name -> small integer, stable for as long as the object lives: a name keeps its id
    across calls, and ids of released names are reused (lowest first). Deterministic when
    names are first seen in a deterministic order."""

    def __init__(self, first: int, limit: int | None = None):
        self.first, self.limit = first, limit
        self.ids: dict[str, int] = {}
        self.free: list[int] = []
        self.next = first

    def exhausted(self, name: str) -> Exception:
        """The error for running out of ids (subclasses say it in their own terms)."""
        return ValueError(f"out of ids ({self.first}..{self.limit - 1}) for {name!r}")

    def __call__(self, name: str) -> int:
        got = self.ids.get(name)
        if got is not None:
            return got
        if self.free:
            got = self.free.pop()
        else:
            if self.limit is not None and self.next >= self.limit:
                raise self.exhausted(name)
            got, self.next = self.next, self.next + 1
        self.ids[name] = got
        return got

    def keep_only(self, names) -> None:
        """Release every name not in `names`."""
        names = set(names)
        for name in [n for n in self.ids if n not in names]:
            self.free.append(self.ids.pop(name))
        self.free.sort(reverse=True)
