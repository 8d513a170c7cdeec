import { createPinia } from 'pinia'
import { createApp } from 'vue'
import App from './App.vue'
import { transportKind } from './api'
import './styles.css'

// Pick the transport first: in web mode that takes the `#token=…` out of the URL before the
// router reads the hash.
transportKind()

createApp(App).use(createPinia()).mount('#app')
