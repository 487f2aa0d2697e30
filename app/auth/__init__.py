"""Staff accounts: users and roles, password hashing, bearer tokens, login throttling."""
