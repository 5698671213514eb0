"""The backend API, one router per concern."""
