"""GitHub App integration: authentication, the REST client, error classification, webhook models."""
