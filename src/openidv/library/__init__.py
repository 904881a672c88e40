"""The plain library verbs. (Placeholder: the lead writes the real package module.)"""
