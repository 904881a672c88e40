"""Stateful things the checks ask (face gallery, capture index, liveness sessions), built once by the caller
and passed in. (Placeholder: the lead writes the real package module.)"""
