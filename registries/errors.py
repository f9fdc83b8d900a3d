"""What the registers' client modules raise: one error type per register, one wording each.

Each error carries the sentence the user sees (`message`, already translated), whether trying
again later may help (`transient`: the register was down, slow or garbled, as opposed to "no
such company"), a short `code` for code that branches on the cause, and the HTTP `status` when
there was an answer.
"""

NOT_FOUND = "not_found"
REFUSED = "refused"
UNAVAILABLE = "unavailable"
TIMEOUT = "timeout"
MALFORMED = "malformed"


class RegistryError(Exception):
    """A register could not give the answer we asked for."""

    def __init__(
        self, message: str, *, code: str, transient: bool, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.transient = transient
        self.status = status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, "
            f"transient={self.transient!r}, message={self.message!r})"
        )
