"""RTSP server for one source, run by the SYSTEM Python (GStreamer bindings come from python3-gi).

Serves the H.264 clips matched by ``--location`` (a glob, played in name order as one stream) at
``rtsp://HOST:PORT/MOUNT``. Each connection gets its own playback from the start. Prints ``ready``
once listening. Needs Debian's gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good and
gstreamer1.0-plugins-bad. Imports nothing from the project (it runs outside the virtual environment).
"""

import argparse
import signal
import sys


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mount", required=True)
    parser.add_argument("--location", required=True, help="glob of the H.264 MP4 clips")
    args = parser.parse_args()
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, Gst, GstRtspServer
    except (ImportError, ValueError) as exc:
        print(f"unavailable: GStreamer RTSP bindings missing ({exc})", flush=True)
        return 3
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = args.location.replace('"', "")
    factory.set_launch(
        f'( splitmuxsrc location="{location}" ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/" + args.mount, factory)
    if server.attach(None) == 0:
        print(f"unavailable: cannot listen on {args.host}:{args.port}", flush=True)
        return 4
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print("ready", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
