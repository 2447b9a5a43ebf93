"""The github-webhook-receiver (SPEC §7): GitHub's signed HTTP POSTs onto `github-events`.

Pure parts, no I/O: `signature` (HMAC check), `routing` (routing key of a
delivery), `validation` (a request's headers and body → status code or an
accepted delivery). The shell: `server` (HTTP, a thread per connection), `receiver` (wiring,
start-up and shutdown); the broker connection is `tickborg.publisher`'s thread.
"""
