"""User-facing errors: one clear line, exit status 2, no traceback (see roofsim.cli)."""


class UserError(Exception):
    """A mistake in the user's input (file, field, argument). The message is shown as is."""

    exit_status = 2


class NeedsGPU(UserError):
    """The command needs a CUDA GPU and none is visible."""
