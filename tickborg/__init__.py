"""tickborg: a CI bot for a GitHub monorepo, built as RabbitMQ workers."""

__version__ = "0.1.0"
