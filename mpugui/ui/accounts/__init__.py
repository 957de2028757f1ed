"""The Accounts dialog: adding, editing and testing accounts and AWS
profiles (credentials go to keyring)."""
