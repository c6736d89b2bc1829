"""The one exception users can cause. The CLI prints its message on one line, exit code 2."""


class IKRHLSError(Exception):
    """A problem with the user's model, file, configuration or environment.

    The message names the file, layer or key concerned and says what would be accepted.
    """
