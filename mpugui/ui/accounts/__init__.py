"""The Accounts dialog: adding, editing and testing accounts and AWS
profiles (credentials go to keyring). dialog puts together the
list (account_list), the form (account_form, profile_chooser, checked by
account_values), where secrets go (secret_keeping), Test connection
(connection_test, check_list) and its questions (question)."""
