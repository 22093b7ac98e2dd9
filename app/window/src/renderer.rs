//! How the window is drawn without a GPU.
//!
//! The renderer is wgpu, which takes a hardware adapter when there is one. Without one (Remote
//! Desktop sessions, VMs, headless CI) it falls back to a software rasteriser: WARP under
//! DirectX 12 on Windows, which every Windows 10 and 11 machine has, and lavapipe (Vulkan) or
//! llvmpipe (OpenGL) from Mesa on Linux. OpenGL alone (eframe's glow renderer) would not do: over
//! Remote Desktop, Windows offers only OpenGL 1.1, which egui cannot use.
//!
//! wgpu's own variables still apply, for IT to work around a bad driver: `WGPU_BACKEND=dx12`
//! (or `vulkan`, `gl`) and `WGPU_POWER_PREF`.

use eframe::egui_wgpu::{WgpuConfiguration, WgpuSetup};
use eframe::wgpu;

pub fn wgpu_options() -> WgpuConfiguration {
    let mut config = WgpuConfiguration::default();
    if let WgpuSetup::CreateNew(setup) = &mut config.wgpu_setup {
        // A form needs no discrete GPU: the integrated or software adapter spares laptop batteries
        // and avoids waking a second GPU.
        setup.power_preference =
            wgpu::PowerPreference::from_env().unwrap_or(wgpu::PowerPreference::LowPower);
    }
    config
}
