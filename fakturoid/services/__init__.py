"""Fakturoid work that crosses apps, one module per job.

- `connection`: check and save an agency's credentials (Settings → Fakturoid).
- `matching`: link our clients to Fakturoid contacts (typed, matched, created).
- `invoicing`: build a client's invoice for a month and create it exactly once.
- `sync`: bring back what changed in Fakturoid (statuses) and fetch PDFs.

Views call these keyword-only functions and catch `fakturoid.errors.IntegrationError`;
`fakturoid.errors.explain()` words any of them for the user.
"""
