"""S.O.F.T. district acoustic simulator: sources, propagation, background, scenarios.

It produces what each street microphone's converter would deliver, with an exact ground
truth, so that the detector can be tested and the classifier trained without real audio.
"""
