"""Exceptions shared across tickborg's modules."""


class DecodeError(ValueError):
    """Input (an AMQP body, a webhook payload) that cannot become a job.

    The runtime answers it with NackDump: the message goes to its dead-letter
    queue with this text as the reason, and is never retried.
    """
